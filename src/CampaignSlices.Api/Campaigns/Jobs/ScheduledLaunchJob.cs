using Quartz;

namespace CampaignSlices.Api.Campaigns.Jobs;

/// <summary>
/// The one-shot trigger of a scheduled launch, keyed by campaign. A trigger missed while no replica
/// ran fires as soon as one starts (FireNow); in a cluster it fires on one replica only. Its job applies
/// the policy and, when that launches, enrolls in the same firing, with what <see cref="EnrollLeadsJob"/>
/// gives an immediate launch: recovery by another replica, retries with backoff, failed after the last.
/// </summary>
public sealed class ScheduledLaunchJob(StartScheduledLaunch.Handler start, LaunchCampaign.Enrollment enrollment, ILogger<ScheduledLaunchJob> logger)
    : IJob
{
    private const string Group = "scheduled-launch";
    private const string CampaignIdKey = "campaign_id";

    public static TriggerKey TriggerFor(Guid campaignId) => new($"launch-{campaignId}", Group);

    public static JobKey JobFor(Guid campaignId) => new($"launch-{campaignId}", Group);

    /// <summary>Creates or moves the trigger to <paramref name="startAt"/>; enlisted, it exists only if the transaction commits.</summary>
    public static async Task ScheduleAsync(IScheduler scheduler, Guid campaignId, DateTimeOffset startAt, CancellationToken ct)
    {
        var job = JobBuilder.Create<ScheduledLaunchJob>()
            .WithIdentity(JobFor(campaignId))
            .UsingJobData(CampaignIdKey, campaignId.ToString())
            .RequestRecovery(true)
            .Build();
        var trigger = TriggerBuilder.Create()
            .WithIdentity(TriggerFor(campaignId))
            .ForJob(job)
            .StartAt(startAt)
            .WithSimpleSchedule(schedule => schedule.WithRepeatCount(0).WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
        await scheduler.ScheduleJob(job, trigger, ScheduleJobOptions.Replacing, ct);
    }

    public static async Task UnscheduleAsync(IScheduler scheduler, Guid campaignId, CancellationToken ct) =>
        await scheduler.DeleteJob(JobFor(campaignId), ct);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct) =>
        await EnrollmentAttempts.RunAsync(context, Guid.Parse((string)context.MergedJobDataMap[CampaignIdKey]!), start.HandleAsync,
            enrollment, logger, ct);
}
