using Quartz;

namespace CampaignSlices.Api.Campaigns.Jobs;

/// <summary>
/// Runs the enrollment of an immediate launch, or of a resume straight to launching, in the background: durable and
/// recoverable, so a replica that dies mid-enrollment leaves it to another; retried with backoff, and failed for good
/// after the last try (<see cref="EnrollmentAttempts"/>). A scheduled launch enrolls in its own trigger's job instead.
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

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct) =>
        await EnrollmentAttempts.RunAsync(context, Guid.Parse((string)context.MergedJobDataMap[CampaignIdKey]!), enrollment.EnrollAsync,
            enrollment, logger, ct);
}
