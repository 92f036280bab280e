// Reads one lead of one of the caller's campaigns with every action it had, oldest first.
using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class GetLead
{
    public sealed record Response : Lead, IAlwaysPresent
    {
        // After the lead's own fields, where a reader looks for its history.
        [JsonPropertyOrder(1)] public List<LeadAction> Actions { get; init; } = [];

        public static new IReadOnlySet<string> NeverNull { get; } = new HashSet<string>(Lead.NeverNull) { "actions" };
    }

    /// <summary>One (step, attempt) of the lead: who leased it, until when, how often, and the outcome that closed it.</summary>
    public sealed record LeadAction(Guid ActionId, int Step, int Attempt, StepChannel Channel, string? Variant, string SenderId, ActionState State,
        string Worker, DateTimeOffset LeasedAt, DateTimeOffset? LeaseExpiresAt, int TimesLeased, ActionOutcome? Outcome, string? Detail,
        string? ProviderReference, DateTimeOffset? OccurredAt, DateTimeOffset? ReportedAt) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string>
        {
            "action_id", "step", "attempt", "channel", "sender_id", "state", "worker", "leased_at", "times_leased",
        };
    }

    /// <summary>The campaign is the caller's but has no lead on that row.</summary>
    public sealed record NoSuchLead(Guid CampaignId, int RowNumber)
    {
        public ProblemHttpResult ToProblem() => Problems.NotFound($"Lead {RowNumber} of campaign {CampaignId} was not found.");
    }

    public sealed record Query(Guid CampaignId, Guid UserId, int RowNumber) : IQuery<OneOf<Response, Missing, NoSuchLead>>;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, [FromRoute(Name = "row_number")] string rowNumber, ClaimsPrincipal user, ISender sender,
        CancellationToken ct)
    {
        if (!int.TryParse(rowNumber, NumberStyles.None, CultureInfo.InvariantCulture, out var row) || row < 1)
            return Problems.Invalid("row_number", $"'{rowNumber}' is not a valid value for row_number: it must be a whole number of 1 or more.");
        return (await sender.Send(new Query(campaignId, user.UserId(), row), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            lead => TypedResults.Ok(lead), notFound => notFound.ToProblem(), noLead => noLead.ToProblem());
    }

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, OneOf<Response, Missing, NoSuchLead>>
    {
        public async ValueTask<OneOf<Response, Missing, NoSuchLead>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await LeadReads.OwnedTypeAsync(connection, query.CampaignId, query.UserId, ct) is not { } type)
                return CampaignNotFound.For(query.CampaignId);
            var parameters = new { query.CampaignId, query.RowNumber, SenderFromActions = LeadReads.SenderFromActions(type) };
            if (await connection.QuerySingleOrDefaultAsync<LeadReads.Row>(new CommandDefinition(LeadSql, parameters, cancellationToken: ct)) is not { } lead)
                return new NoSuchLead(query.CampaignId, query.RowNumber);
            var actions = await connection.QueryAsync<ActionRow>(new CommandDefinition(ActionsSql, parameters, cancellationToken: ct));
            return lead.To<Response>() with { Actions = [.. actions.Select(action => action.ToAction())] };
        }
    }

    private sealed class ActionRow
    {
        public Guid ActionId { get; init; }
        public int Step { get; init; }
        public int Attempt { get; init; }
        public string Channel { get; init; } = "";
        public string? Variant { get; init; }
        public string SenderId { get; init; } = "";
        public string State { get; init; } = "";
        public string Worker { get; init; } = "";
        public DateTimeOffset LeasedAt { get; init; }
        public DateTimeOffset? LeaseExpiresAt { get; init; }
        public int TimesLeased { get; init; }
        public string? Outcome { get; init; }
        public string? Detail { get; init; }
        public string? ProviderReference { get; init; }
        public DateTimeOffset? OccurredAt { get; init; }
        public DateTimeOffset? ReportedAt { get; init; }

        public LeadAction ToAction() => new(ActionId, Step, Attempt, (StepChannel)Json.FromWire(typeof(StepChannel), Channel), Variant, SenderId,
            (ActionState)Json.FromWire(typeof(ActionState), State), Worker, LeasedAt, LeaseExpiresAt, TimesLeased,
            Outcome is null ? null : (ActionOutcome)Json.FromWire(typeof(ActionOutcome), Outcome), Detail, ProviderReference, OccurredAt, ReportedAt);
    }

    private const string LeadSql = $"""
        select {LeadReads.Columns}
        from leads l
        where l.campaign_id = @CampaignId and l.row_number = @RowNumber
        """;

    // Steps and attempts follow one another in time, so their order is the order the actions happened in.
    private const string ActionsSql = """
        select action_id, step, attempt, channel, variant, sender_id, state, worker, leased_at, lease_expires_at,
               times_leased, outcome, detail, provider_reference, occurred_at, reported_at
        from actions
        where campaign_id = @CampaignId and row_number = @RowNumber
        order by step, attempt
        """;
}
