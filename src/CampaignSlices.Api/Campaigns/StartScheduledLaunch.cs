// When a scheduled launch's trigger fires: the unreviewed-launch policy, then the same enrollment as an immediate launch.
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

public static class StartScheduledLaunch
{
    public const string PendingReview = "pending_personalization_review";

    /// <summary>How early a trigger may fire (Quartz wakes a few milliseconds ahead) and still be on time.</summary>
    private static readonly TimeSpan FiringTolerance = TimeSpan.FromSeconds(1);

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers, ILogger<Handler> logger)
    {
        public async Task HandleAsync(Guid campaignId, CancellationToken ct)
        {
            var scheduler = await schedulers.GetScheduler(ct);
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            if (await CampaignStore.LockAsync(connection, transaction, campaignId, null, ct) is not { Status: CampaignStatus.Scheduled } campaign)
            {
                logger.LogInformation("Scheduled launch of campaign {CampaignId} skipped: it is no longer scheduled", campaignId);
                return;
            }

            var now = clock.GetUtcNow();
            // A trigger that fired while a PATCH moved start_date later (it waited on this row) is stale: the moved trigger launches it then.
            if (campaign.StartDate > now + FiringTolerance)
            {
                logger.LogInformation("Scheduled launch of campaign {CampaignId} skipped: its start_date moved to {StartDate}", campaignId, campaign.StartDate);
                return;
            }
            var policy = campaign.NeedsPersonalizationReview ? campaign.UnreviewedLaunchPolicy!.Value : UnreviewedLaunchPolicy.LaunchDefault;
            var (to, eventType, reason) = policy switch
            {
                UnreviewedLaunchPolicy.Hold => (CampaignStatus.Paused, CampaignEventType.HeldForReview, PendingReview),
                UnreviewedLaunchPolicy.Cancel => (CampaignStatus.Draft, CampaignEventType.LaunchCancelledUnreviewed, "personalization_not_reviewed"),
                _ => (CampaignStatus.Launching, CampaignEventType.LaunchStarted, (string?)null),
            };
            var change = CampaignStatusRules.Change(campaign.Status, to, eventType);
            await connection.ExecuteAsync(new CommandDefinition(Sql, new
            {
                campaignId,
                status = to.ToWire(),
                pausedReason = to == CampaignStatus.Paused ? reason : null,
                launching = to == CampaignStatus.Launching,
                backToDraft = to == CampaignStatus.Draft,
                jobId = EnrollLeadsJob.KeyFor(campaignId).ToString(),
                now,
            }, transaction, cancellationToken: ct));
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.BySystem, now, ct,
                reason: reason, details: new { policy = policy.ToWire() });
            using (scheduler.EnlistTransaction(transaction))
            {
                if (to == CampaignStatus.Launching)
                    await EnrollLeadsJob.ScheduleAsync(scheduler, campaignId, now, ct);
                await transaction.CommitAsync(ct);
            }
            logger.LogInformation("Scheduled launch of campaign {CampaignId} fired: {Outcome} under policy {Policy}", campaignId, eventType, policy);
        }
    }

    private const string Sql = """
        update campaigns c
        set status = @status, paused_reason = @pausedReason,
            -- back to draft (the cancel policy): no launch is pending; held or not, the fired trigger is gone, so nothing names it
            launch_requested_at = case when @launching then @now when @backToDraft then null else c.launch_requested_at end,
            launch_job_id = case when @launching then @jobId else null end,
            updated_at = @now
        where c.campaign_id = @campaignId
        """;
}
