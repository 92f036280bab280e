using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Api.Webhooks;
using FluentValidation;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

/// <summary>What the campaigns area needs beyond its Mediator handlers: validators, shared services, jobs.</summary>
public static class CampaignServices
{
    public static void AddCampaigns(this WebApplicationBuilder builder)
    {
        var webhooks = DeliverWebhooks.Settings.Read(builder.Configuration);
        builder.AddScheduling(quartz =>
        {
            quartz.ScheduleJob<DeliverWebhooksJob>(trigger => trigger
                .WithIdentity(DeliverWebhooksJob.Key.Name, DeliverWebhooksJob.Key.Group)
                .WithSimpleSchedule(schedule => schedule.WithInterval(webhooks.PollInterval).RepeatForever()));
            DispatchServices.ScheduleSweep(quartz, builder.Configuration);
        });
        builder.Services.AddSingleton<CampaignValidator>();
        builder.Services.AddSingleton<CampaignRequestValidator>();
        builder.Services.AddSingleton<IValidator<CreateCampaign.Command>, CreateCampaign.Validator>();
        builder.Services.AddSingleton<IValidator<PatchCampaign.Command>, PatchCampaign.Validator>();
        builder.Services.AddSingleton<GetCampaign.Answers>();
        builder.Services.AddSingleton<CampaignLifecycle>();
        builder.Services.AddSingleton<LaunchCampaign.Enrollment>();
        builder.Services.AddSingleton<StartScheduledLaunch.Handler>();
        builder.Services.AddTransient<EnrollLeadsJob>();
        builder.Services.AddTransient<ScheduledLaunchJob>();
        builder.Services.AddSingleton(webhooks);
        builder.Services.AddSingleton<DeliverWebhooks.Handler>();
        builder.Services.AddHttpClient(DeliverWebhooks.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(services => services.GetRequiredService<WebhookTargets>().CreateHandler());
    }
}
