// The campaign's audit trail, oldest first.
using System.Security.Claims;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class ListCampaignEvents
{
    public sealed record Query(Guid CampaignId, Guid UserId) : IQuery<OneOf<Response, Missing>>;

    public sealed record Event(
        Guid EventId, CampaignEventType Type, CampaignStatus? FromStatus, CampaignStatus? ToStatus, string? Reason, string Actor,
        JsonObject Details, DateTimeOffset CreatedAt);

    public sealed record Response(List<Event> Items);

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, CancellationToken ct) =>
        (await sender.Send(new Query(campaignId, user.UserId()), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            events => TypedResults.Ok(events),
            notFound => notFound.ToProblem());

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, OneOf<Response, Missing>>
    {
        public async ValueTask<OneOf<Response, Missing>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(OwnedSql, query, cancellationToken: ct)))
                return CampaignNotFound.For(query.CampaignId);
            var rows = await connection.QueryAsync<Row>(new CommandDefinition(ListSql, query, cancellationToken: ct));
            return new Response([.. rows.Select(row => row.ToEvent())]);
        }
    }

    private sealed class Row
    {
        public Guid EventId { get; init; }
        public string Type { get; init; } = "";
        public string? FromStatus { get; init; }
        public string? ToStatus { get; init; }
        public string? Reason { get; init; }
        public string Actor { get; init; } = "";
        public string Details { get; init; } = "{}";
        public DateTime CreatedAt { get; init; }

        public Event ToEvent() => new(EventId, (CampaignEventType)Json.FromWire(typeof(CampaignEventType), Type),
            FromStatus is null ? null : (CampaignStatus)Json.FromWire(typeof(CampaignStatus), FromStatus),
            ToStatus is null ? null : (CampaignStatus)Json.FromWire(typeof(CampaignStatus), ToStatus),
            Reason, Actor, JsonNode.Parse(Details)!.AsObject(), new DateTimeOffset(CreatedAt, TimeSpan.Zero));
    }

    private const string OwnedSql = "select exists(select 1 from campaigns where campaign_id = @CampaignId and user_id = @UserId)";

    private const string ListSql = """
        select event_id, type, from_status, to_status, reason, actor, details::text as details, created_at
        from campaign_events
        where campaign_id = @CampaignId
        order by created_at, event_id
        """;
}
