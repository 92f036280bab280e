// When a scheduled launch's trigger fires: the unreviewed-launch policy, then, in the same firing, the same enrollment as an immediate launch.
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class StartScheduledLaunch
{
    public const string PendingReview = "pending_personalization_review";

    /// <summary>How early a trigger may fire (Quartz wakes a few milliseconds ahead) and still be on time.</summary>
    private static readonly TimeSpan FiringTolerance = TimeSpan.FromSeconds(1);

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, LaunchCampaign.Enrollment enrollment, ILogger<Handler> logger)
    {
        /// <summary>
        /// The policy's outcome, then the enrollment when it launches. A campaign this trigger already moved to launching
        /// (a retry, or a recovery after the replica died) is enrolled again: enrollment is idempotent.
        /// </summary>
        public async Task HandleAsync(Guid campaignId, CancellationToken ct)
        {
            if (await StartAsync(campaignId, ct))
                await enrollment.EnrollAsync(campaignId, ct);
        }

        /// <summary>Applies the policy to a scheduled campaign whose time has come; true when the campaign is launching because of this trigger.</summary>
        private async Task<bool> StartAsync(Guid campaignId, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var campaign = await CampaignStore.LockAsync(connection, transaction, campaignId, null, ct);
            // Nothing but this trigger's job moves a scheduled campaign to launching with its own key (resume names the enrollment job).
            if (campaign is { Status: CampaignStatus.Launching } && campaign.LaunchJobId == ScheduledLaunchJob.JobFor(campaignId).ToString())
            {
                logger.LogInformation("Scheduled launch of campaign {CampaignId} fired again: it is launching, its enrollment runs again", campaignId);
                return true;
            }
            if (campaign is not { Status: CampaignStatus.Scheduled })
            {
                logger.LogInformation("Scheduled launch of campaign {CampaignId} skipped: it is no longer scheduled", campaignId);
                return false;
            }

            var now = clock.GetUtcNow();
            // A trigger that fired while a PATCH moved start_date later (it waited on this row) is stale: the moved trigger launches it then.
            if (campaign.StartDate > now + FiringTolerance)
            {
                logger.LogInformation("Scheduled launch of campaign {CampaignId} skipped: its start_date moved to {StartDate}", campaignId, campaign.StartDate);
                return false;
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
                jobId = ScheduledLaunchJob.JobFor(campaignId).ToString(),
                now,
            }, transaction, cancellationToken: ct));
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.BySystem, now, ct,
                reason: reason, details: new { policy = policy.ToWire() });
            // Committed before enrolling: launching (and its event) is visible while a large enrollment runs.
            await transaction.CommitAsync(ct);
            logger.LogInformation("Scheduled launch of campaign {CampaignId} fired: {Outcome} under policy {Policy}", campaignId, eventType, policy);
            return to == CampaignStatus.Launching;
        }
    }

    private const string Sql = """
        update campaigns c
        set status = @status, paused_reason = @pausedReason,
            -- back to draft (the cancel policy): no launch is pending; held or not, the fired trigger is gone, so nothing names it
            launch_requested_at = case when @launching then @now when @backToDraft then null else c.launch_requested_at end,
            -- launching: this trigger's own job enrolls it, so launch_job_id goes on naming it
            launch_job_id = case when @launching then @jobId else null end,
            updated_at = @now
        where c.campaign_id = @campaignId
        """;
}
