// The audit trail: an event per status change and per update, written in the transaction of the change.
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class CampaignEvents
{
    public const string ByUser = "user";
    public const string BySystem = "system";

    /// <summary>An update that leaves the status as it is (`updated`, `schedule_changed`).</summary>
    public static Task RecordUpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId, CampaignEventType type,
        CampaignStatus status, string actor, DateTimeOffset now, object details, CancellationToken ct) =>
        InsertAsync(connection, transaction, campaignId, type, status, status, actor, now, reason: null, details, ct);

    /// <summary>
    /// A status change, which must be one the rules list; where the campaign has a webhook_config,
    /// a delivery (its body in the Standard Webhooks form, type `campaign.{event type}`) joins the outbox in the same transaction.
    /// </summary>
    public static Task RecordStatusChangeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId,
        CampaignStatusRules.StatusChange change, string actor, DateTimeOffset now, CancellationToken ct, string? reason = null, object? details = null) =>
        InsertAsync(connection, transaction, campaignId, change.Event, change.From, change.To, actor, now, reason, details, ct);

    private static Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId, CampaignEventType type,
        CampaignStatus from, CampaignStatus to, string actor, DateTimeOffset now, string? reason, object? details, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(InsertSql, new
        {
            eventId = Guid.CreateVersion7(now),
            deliveryId = Guid.CreateVersion7(now),
            campaignId,
            type = type.ToWire(),
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
               jsonb_build_object('type', 'campaign.' || @type,
                                  'timestamp', to_char(@now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                  'data', jsonb_build_object('campaign_id', c.campaign_id, 'status', @to, 'reason', @reason,
                                                             'metadata', coalesce(nullif(c.webhook_config -> 'metadata', 'null'::jsonb), '{}'::jsonb))),
               @now, @now
        from event join campaigns c on c.campaign_id = @campaignId
        where @notify and c.webhook_config is not null
        """;
}
