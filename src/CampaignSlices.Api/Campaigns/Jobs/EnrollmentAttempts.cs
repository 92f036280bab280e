using Quartz;

namespace CampaignSlices.Api.Campaigns.Jobs;

/// <summary>
/// What a failed attempt of a job that enrolls means (<see cref="EnrollLeadsJob"/> and <see cref="ScheduledLaunchJob"/>):
/// while the scheduler's retry policy (Scheduling:Retries) has tries left, the failure goes back to it and it fires the
/// same job again with backoff; after the last one the campaign is failed, if this job's launch is still under way.
/// </summary>
public static class EnrollmentAttempts
{
    public static async ValueTask RunAsync(IJobExecutionContext context, Guid campaignId, Func<Guid, CancellationToken, Task> attempt,
        LaunchCampaign.Enrollment enrollment, ILogger logger, CancellationToken ct)
    {
        try
        {
            await attempt(campaignId, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            if (context.RetryAttempt < (context.RetryPolicy?.MaxAttempts ?? 0))
            {
                logger.LogWarning(e, "Enrollment of campaign {CampaignId} failed (attempt {Attempt}); it will be retried", campaignId, context.RetryAttempt + 1);
                throw new JobExecutionException(e);
            }
            logger.LogError(e, "Enrollment of campaign {CampaignId} failed after {Attempts} attempts; the campaign is failed", campaignId, context.RetryAttempt + 1);
            // Clients read launch_error: it says what happened, never the database's own message (that stays in the log).
            await enrollment.FailAsync(campaignId, context.JobDetail.Key,
                $"Enrollment failed after {context.RetryAttempt + 1} attempts; the service log holds the detail under this campaign id.", ct);
        }
    }
}
