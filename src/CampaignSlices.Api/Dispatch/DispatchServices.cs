using CampaignSlices.Api.Dispatch.Jobs;
using FluentValidation;
using Quartz;

namespace CampaignSlices.Api.Dispatch;

/// <summary>What the dispatch area needs beyond its Mediator handlers: validators, the claim, the notifier, the sweep.</summary>
public static class DispatchServices
{
    public static void AddDispatch(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DispatchMetrics>();
        builder.Services.AddSingleton<CampaignPlans>();
        builder.Services.AddSingleton<ActionClaim>();
        builder.Services.AddSingleton<OutcomeRecorder>();
        builder.Services.AddSingleton<DueWork>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DueWork>());
        builder.Services.AddSingleton<SweepCampaigns.Handler>();
        builder.Services.AddTransient<SweepCampaignsJob>();
        builder.Services.AddSingleton<ReportOutcome.ReportRules>();
        builder.Services.AddSingleton<IValidator<LeaseActions.Command>, LeaseActions.Validator>();
        builder.Services.AddSingleton<IValidator<HeartbeatAction.Command>, HeartbeatAction.Validator>();
        builder.Services.AddSingleton<IValidator<ReleaseAction.Command>, ReleaseAction.Validator>();
        builder.Services.AddSingleton<IValidator<ReportOutcome.Command>, ReportOutcome.Validator>();
        builder.Services.AddSingleton<IValidator<ReportOutcomes.Command>, ReportOutcomes.Validator>();
        builder.Services.AddSingleton<IValidator<RecordLeadEvent.Command>, RecordLeadEvent.Validator>();
    }

    /// <summary>The sweep's trigger: every Dispatch:SweepInterval (default 10 s), on whichever replica the cluster picks.</summary>
    public static void ScheduleSweep(IQuartzBuilder quartz, IConfiguration configuration) =>
        quartz.ScheduleJob<SweepCampaignsJob>(trigger => trigger
            .WithIdentity(SweepCampaignsJob.Key.Name, SweepCampaignsJob.Key.Group)
            .WithSimpleSchedule(schedule => schedule
                .WithInterval(configuration.GetValue("Dispatch:SweepInterval", TimeSpan.FromSeconds(10)))
                .RepeatForever()));
}
