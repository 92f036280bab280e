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
            campaignId,
            type = type.ToWire(),
            from = from.ToWire(),
            to = to.ToWire(),
            reason,
            actor,
            details = JsonSerializer.Serialize(details ?? new { }, Json.Options),
            now,
        }, transaction, cancellationToken: ct));

    /// <summary>
    /// Common table expressions for a statement's WITH that record a status change per row of <paramref name="changes"/> (a
    /// relation of campaign_id, type, from_status, to_status, reason, actor and details as jsonb), all at <c>@now</c>: the
    /// events (<c>{name}_events</c>) and, for a change of status on a campaign with a webhook_config, its delivery (body in
    /// the Standard Webhooks form, type <c>campaign.{event type}</c>) in the outbox. So a statement that changes many
    /// campaigns at once (a completion, a bounce pause) records them with no round trip of its own.
    /// </summary>
    public static string RecordChangesSql(string name, string changes) => $$"""
        {{name}}_events as (
            insert into campaign_events (event_id, campaign_id, type, from_status, to_status, reason, actor, details, created_at)
            select uuid_v7(@now), x.campaign_id, x.type, x.from_status, x.to_status, x.reason, x.actor, x.details, @now
            from {{changes}} x
            returning event_id, campaign_id, type, from_status, to_status, reason
        ),
        {{name}}_deliveries as (
            insert into webhook_deliveries (delivery_id, event_id, campaign_id, url, payload, next_attempt_at, created_at)
            select uuid_v7(@now), e.event_id, c.campaign_id, c.webhook_config ->> 'url',
                   jsonb_build_object('type', 'campaign.' || e.type,
                                      'timestamp', to_char(@now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                      'data', jsonb_build_object('campaign_id', c.campaign_id, 'status', e.to_status, 'reason', e.reason,
                                                                 'metadata', coalesce(nullif(c.webhook_config -> 'metadata', 'null'::jsonb), '{}'::jsonb))),
                   @now, @now
            from {{name}}_events e join campaigns c on c.campaign_id = e.campaign_id
            where e.from_status <> e.to_status and c.webhook_config is not null
        )
        """;

    private static readonly string InsertSql = $"""
        with change as (
            select @campaignId::uuid as campaign_id, @type::text as type, @from::text as from_status, @to::text as to_status,
                   @reason::text as reason, @actor::text as actor, cast(@details as jsonb) as details
        ),
        {RecordChangesSql("change", "change")}
        select 1
        """;
}
