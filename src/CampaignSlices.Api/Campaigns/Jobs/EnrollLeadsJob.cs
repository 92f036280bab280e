using Quartz;

namespace CampaignSlices.Api.Campaigns.Jobs;

/// <summary>
/// Runs a launch's enrollment in the background: durable and recoverable, so a replica that dies
/// mid-enrollment leaves it to another; retried with backoff, and failed for good after the last try.
/// </summary>
public sealed class EnrollLeadsJob(LaunchCampaign.Enrollment enrollment, ILogger<EnrollLeadsJob> logger) : IJob
{
    private const string Group = "enrollment";
    private const string CampaignIdKey = "campaign_id";

    public static JobKey KeyFor(Guid campaignId) => new($"enroll-{campaignId}", Group);

    /// <summary>Schedules the enrollment to run at once; inside an enlisted transaction it exists only if that commits.</summary>
    public static async Task ScheduleAsync(IScheduler scheduler, Guid campaignId, DateTimeOffset now, CancellationToken ct)
    {
        var job = JobBuilder.Create<EnrollLeadsJob>()
            .WithIdentity(KeyFor(campaignId))
            .UsingJobData(CampaignIdKey, campaignId.ToString())
            .RequestRecovery(true)
            .StoreDurably(false)
            .Build();
        var trigger = TriggerBuilder.Create()
            .WithIdentity($"enroll-{campaignId}", Group)
            .StartAt(now)
            .WithSimpleSchedule(schedule => schedule.WithRepeatCount(0).WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
        await scheduler.ScheduleJob(job, trigger, ScheduleJobOptions.Replacing, ct);
    }

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct)
    {
        var campaignId = Guid.Parse((string)context.MergedJobDataMap[CampaignIdKey]!);
        try
        {
            await enrollment.EnrollAsync(campaignId, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // The scheduler's retry policy (Scheduling:Retries) re-fires a failed attempt with backoff.
            if (context.RetryAttempt < (context.RetryPolicy?.MaxAttempts ?? 0))
            {
                logger.LogWarning(e, "Enrollment of campaign {CampaignId} failed (attempt {Attempt}); it will be retried", campaignId, context.RetryAttempt + 1);
                throw new JobExecutionException(e);
            }
            logger.LogError(e, "Enrollment of campaign {CampaignId} failed after {Attempts} attempts; the campaign is failed", campaignId, context.RetryAttempt + 1);
            // Clients read launch_error: it says what happened, never the database's own message (that stays in the log).
            await enrollment.FailAsync(campaignId,
                $"Enrollment failed after {context.RetryAttempt + 1} attempts; the service log holds the detail under this campaign id.", ct);
        }
    }
}
