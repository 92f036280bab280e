// What time alone changes in running campaigns: past end_date an active campaign drains (its pending leads stop),
// a call whose lease ended unreported closes as internal_error, and a running campaign with no lead left in play completes.
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Dispatch;

public static class SweepCampaigns
{
    public const string EndDateReason = "end_date";

    public sealed record Swept(int Drained, int ExpiredCalls, int Completed);

    public sealed class Handler(NpgsqlDataSource db, OutcomeRecorder recorder, TimeProvider clock, ILogger<Handler> logger)
    {
        public async Task<Swept> SweepAsync(CancellationToken ct)
        {
            // Calls no worker polls for any more still end: their retry, or their lead's failure, and so the campaign.
            var expiredCalls = await recorder.ExpireCallLeasesAsync(null, ct);
            if (expiredCalls > 0)
                logger.LogInformation("{Expired} call leases ended without an outcome and were closed as internal_error", expiredCalls);
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var change = CampaignStatusRules.Change(CampaignStatus.Active, CampaignStatus.Draining, CampaignEventType.EndDateReached);
            var drained = (await connection.QueryAsync<(Guid CampaignId, int Stopped)>(new CommandDefinition(DrainSql, new
            {
                from = change.From.ToWire(), to = change.To.ToWire(), stopped = LeadStatus.Stopped.ToWire(), pending = LeadStatus.Pending.ToWire(),
                reason = EndDateReason, now,
            }, transaction, cancellationToken: ct))).ToList();
            foreach (var (campaignId, stopped) in drained)
            {
                await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.BySystem, now, ct,
                    reason: EndDateReason, details: new { stopped_leads = stopped });
                logger.LogInformation("Campaign {CampaignId} draining: end_date passed, {Stopped} pending leads stopped", campaignId, stopped);
            }
            var completed = await CampaignProgress.CompleteFinishedAsync(connection, transaction, null, now, ct);
            await transaction.CommitAsync(ct);
            if (completed > 0)
                logger.LogInformation("{Completed} campaigns completed", completed);
            return new Swept(drained.Count, expiredCalls, completed);
        }
    }

    // Campaign rows are locked first, as every writer of leads does (SKIP LOCKED: a busy campaign waits for the next sweep).

    private const string DrainSql = """
        with ended as (
            select campaign_id from campaigns
            where status = @from and end_date <= @now
            for no key update skip locked
        ),
        stopped as (
            update leads l set status = @stopped, stop_reason = @reason, next_action_at = null, updated_at = @now
            from ended e
            where l.campaign_id = e.campaign_id and l.status = @pending
            returning l.campaign_id
        ),
        counted as (
            select e.campaign_id, count(s.campaign_id)::int as stopped
            from ended e left join stopped s on s.campaign_id = e.campaign_id
            group by e.campaign_id
        )
        update campaigns c
        set status = @to, processed_leads = c.processed_leads + n.stopped, updated_at = @now
        from counted n
        where c.campaign_id = n.campaign_id
        returning c.campaign_id, n.stopped
        """;
}
