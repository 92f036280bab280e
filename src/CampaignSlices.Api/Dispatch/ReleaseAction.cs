// Gives a leased action back undone: it is due again after delay_seconds, moved into the schedule, as the same attempt.
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public static class ReleaseAction
{
    public const int MaxDelaySeconds = 86_400;

    [RequiredProperties("lease_token")]
    public sealed record Request
    {
        public Guid? LeaseToken { get; init; }
        public int? DelaySeconds { get; init; }
    }

    /// <summary>When the action is due again (null when the schedule allows no moment within its horizon).</summary>
    public sealed record Response(Guid ActionId, DateTimeOffset? NextActionAt) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "action_id" };
    }

    public sealed record Command(Guid ActionId, Guid? LeaseToken, int? DelaySeconds)
        : ICommand<OneOf<Response, Invalid, Missing, LeaseLost>>, IValidatedRequest<OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public OneOf<Response, Invalid, Missing, LeaseLost> Reject(Invalid invalid) => invalid with { Detail = "The release is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint([FromRoute(Name = "action_id")] Guid actionId, HttpRequest request,
        ISender sender, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        return (await sender.Send(new Command(actionId, parsed.Value.LeaseToken, parsed.Value.DelaySeconds), ct))
            .Match<Results<Ok<Response>, ProblemHttpResult>>(
                released => TypedResults.Ok(released), invalid => invalid.ToProblem(), missing => missing.ToProblem(), lost => lost.ToProblem());
    }

    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.LeaseToken).NotNull().WithMessage("lease_token is required: the token the lease answered.");
            RuleFor(command => command.DelaySeconds).InclusiveBetween(0, MaxDelaySeconds).WithMessage($"delay_seconds must be between 0 and {MaxDelaySeconds}.");
        }
    }

    public sealed class Handler(NpgsqlDataSource db, CampaignPlans plans, TimeProvider clock)
        : ICommandHandler<Command, OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public async ValueTask<OneOf<Response, Invalid, Missing, LeaseLost>> Handle(Command command, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var held = await connection.QuerySingleOrDefaultAsync<(Guid CampaignId, int RowNumber, DateTimeOffset UpdatedAt, string? Timezone,
                DateTimeOffset? EarliestAt, string LeadStatus)?>(new CommandDefinition(LockSql, new { id = command.ActionId, token = command.LeaseToken, now }, transaction,
                cancellationToken: ct));
            if (held is not { } action)
            {
                var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(ExistsSql, new { id = command.ActionId }, transaction,
                    cancellationToken: ct));
                return exists
                    ? LeaseLost.NotHeld
                    : new Missing("Action", command.ActionId);
            }
            // The lead left play while the action was out (its campaign was cancelled): the action closes, nothing is due again.
            if (!CampaignStatusRules.LeadsInPlay.Contains((LeadStatus)Json.FromWire(typeof(LeadStatus), action.LeadStatus)))
            {
                await connection.ExecuteAsync(new CommandDefinition(CloseSql, new { id = command.ActionId, now }, transaction, cancellationToken: ct));
                await transaction.CommitAsync(ct);
                return new Response(command.ActionId, null);
            }
            var plan = (await plans.GetAsync(connection, transaction, new Dictionary<Guid, DateTimeOffset> { [action.CampaignId] = action.UpdatedAt }, ct))[action.CampaignId];
            // Never earlier than the step's own delay allows.
            var wanted = now.AddSeconds(command.DelaySeconds ?? 0);
            var earliest = action.EarliestAt > wanted ? action.EarliestAt.Value : wanted;
            var due = LeadTiming.Due(plan.Schedule, earliest, plan.Schedule.LeadZone(action.Timezone));
            await connection.ExecuteAsync(new CommandDefinition(ReleaseSql, new
            {
                id = command.ActionId, campaign_id = action.CampaignId, row_number = action.RowNumber, earliest, due, now,
            }, transaction, cancellationToken: ct));
            if (due <= now)
                await connection.ExecuteAsync(new CommandDefinition(DueWork.NotifySql, transaction: transaction, cancellationToken: ct));
            await transaction.CommitAsync(ct);
            return new Response(command.ActionId, due);
        }
    }

    // Campaign, then action, then lead: the order every writer of a lead takes.
    private const string LockSql = """
        with held as (
            select a.campaign_id, a.row_number
            from actions a
            where a.action_id = @id and a.state = 'leased' and a.lease_token = @token and a.lease_expires_at > @now
        ),
        campaign as (
            select c.campaign_id, c.updated_at from campaigns c join held h on h.campaign_id = c.campaign_id for no key update of c
        )
        select a.campaign_id, a.row_number, campaign.updated_at, l.timezone, l.earliest_at, l.status as lead_status
        from campaign
        join actions a on a.action_id = @id and a.state = 'leased' and a.lease_token = @token and a.lease_expires_at > @now
        join leads l on l.campaign_id = a.campaign_id and l.row_number = a.row_number
        for update of a, l
        """;

    private const string CloseSql = """
        update actions set state = 'cancelled', lease_token = null, lease_expires_at = null, reported_at = @now where action_id = @id
        """;

    private const string ExistsSql = "select exists (select 1 from actions where action_id = @id)";

    private const string ReleaseSql = """
        update actions set state = 'released', lease_token = null, lease_expires_at = null where action_id = @id;
        update leads set earliest_at = @earliest, next_action_at = @due, updated_at = @now
        where campaign_id = @campaign_id and row_number = @row_number;
        """;
}
