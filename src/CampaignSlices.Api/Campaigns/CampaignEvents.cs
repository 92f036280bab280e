// The audit trail: an event per status change and per update, written in the transaction of the change; and its list endpoint.
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class CampaignEvents
{
    public const string ByUser = "user";
    public const string BySystem = "system";

    public sealed record Event(
        Guid EventId, string Type, CampaignStatus? FromStatus, CampaignStatus? ToStatus, string? Reason, string Actor,
        JsonObject Details, DateTimeOffset CreatedAt);

    public sealed record Response(List<Event> Items);

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var parameters = new { campaignId, userId = user.UserId() };
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(OwnedSql, parameters, cancellationToken: ct)))
            return Problems.NotFound($"Campaign {campaignId} was not found.");
        var bodies = await connection.QueryAsync<string>(new CommandDefinition(ListSql, parameters, cancellationToken: ct));
        return TypedResults.Ok(new Response(bodies.Select(body => JsonSerializer.Deserialize<Event>(body, Json.StoredOptions)!).ToList()));
    }

    /// <summary>
    /// Writes one event; call it inside the transaction of the change it records. A status change
    /// also notifies: where the campaign has a webhook_config, a delivery joins the outbox.
    /// </summary>
    public static Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId, string type, CampaignStatus from, CampaignStatus to,
        string actor, DateTimeOffset now, CancellationToken ct, string? reason = null, object? details = null) =>
        connection.ExecuteAsync(new CommandDefinition(InsertSql, new
        {
            eventId = Guid.CreateVersion7(now),
            deliveryId = Guid.CreateVersion7(now),
            campaignId,
            type,
            from = from.ToWire(),
            to = to.ToWire(),
            notify = from != to,
            reason,
            actor,
            details = JsonSerializer.Serialize(details ?? new { }, Json.Options),
            now,
        }, transaction, cancellationToken: ct));

    private const string InsertSql = """
        with event as (
            insert into campaign_events (event_id, campaign_id, type, from_status, to_status, reason, actor, details, created_at)
            values (@eventId, @campaignId, @type, @from, @to, @reason, @actor, cast(@details as jsonb), @now)
            returning event_id
        )
        insert into webhook_deliveries (delivery_id, event_id, campaign_id, url, payload, next_attempt_at, created_at)
        select @deliveryId, event.event_id, c.campaign_id, c.webhook_config ->> 'url',
               jsonb_build_object('event_id', event.event_id, 'type', @type, 'campaign_id', c.campaign_id, 'status', @to,
                                  'from_status', @from, 'reason', @reason, 'metadata', coalesce(c.webhook_config -> 'metadata', '{}'::jsonb),
                                  'occurred_at', to_char(@now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
               @now, @now
        from event join campaigns c on c.campaign_id = @campaignId
        where @notify and c.webhook_config is not null
        """;

    private const string OwnedSql = "select exists(select 1 from campaigns where campaign_id = @campaignId and user_id = @userId)";

    private const string ListSql = """
        select (to_jsonb(e) - 'campaign_id')::text
        from campaign_events e
        where e.campaign_id = @campaignId
        order by e.created_at, e.event_id
        """;
}
