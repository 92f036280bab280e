using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

/// <summary>The route table of the campaigns area.</summary>
public static class CampaignEndpoints
{
    public static void AddCampaigns(this WebApplicationBuilder builder)
    {
        var webhooks = DeliverWebhooks.Settings.Read(builder.Configuration, builder.Environment);
        builder.AddScheduling(quartz => quartz.ScheduleJob<DeliverWebhooksJob>(trigger => trigger
            .WithIdentity(DeliverWebhooksJob.Key.Name, DeliverWebhooksJob.Key.Group)
            .WithSimpleSchedule(schedule => schedule.WithInterval(webhooks.PollInterval).RepeatForever())));
        builder.Services.AddSingleton<CampaignValidator>();
        builder.Services.AddSingleton<CampaignRequestValidator>();
        builder.Services.AddSingleton<CreateCampaign.Handler>();
        builder.Services.AddSingleton<PatchCampaign.Handler>();
        builder.Services.AddSingleton<LaunchCampaign.Handler>();
        builder.Services.AddSingleton<LaunchCampaign.Enrollment>();
        builder.Services.AddSingleton<StartScheduledLaunch.Handler>();
        builder.Services.AddSingleton<CampaignLifecycle>();
        builder.Services.AddTransient<EnrollLeadsJob>();
        builder.Services.AddTransient<ScheduledLaunchJob>();
        builder.Services.AddSingleton(webhooks);
        builder.Services.AddSingleton<DeliverWebhooks.Handler>();
        builder.Services.AddHttpClient(DeliverWebhooks.HttpClientName);
    }

    public static void MapCampaignEndpoints(this IEndpointRouteBuilder api)
    {
        var campaigns = api.MapGroup("/campaigns").WithTags("Campaigns").WithIdempotencyKeys();
        campaigns.MapPost("/", CreateCampaign.Endpoint).WithName("CreateCampaign").WithSummary("Create a campaign (always a draft)")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        campaigns.MapGet("/", ListCampaigns.Endpoint).WithName("ListCampaigns").WithSummary("List the caller's campaigns, newest first")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapGet("/{campaign_id}", GetCampaign.Endpoint).WithName("GetCampaign").WithSummary("Read a campaign")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapPatch("/{campaign_id}", PatchCampaign.Endpoint).WithName("PatchCampaign")
            .WithSummary("Change some fields of a campaign, as its status allows")
            .Accepts<CampaignSettings>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapGet("/{campaign_id}/preflight", Preflight.Endpoint).WithName("PreflightCampaign")
            .WithSummary("Check the campaign's leads against its steps; writes nothing")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapPost("/{campaign_id}/launch", LaunchCampaign.Endpoint).WithName("LaunchCampaign")
            .WithSummary("Launch a draft now, or schedule it for its start_date")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        campaigns.MapPost("/{campaign_id}/pause", PauseCampaign.Endpoint).WithName("PauseCampaign")
            .WithSummary("Pause a scheduled or active campaign")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapPost("/{campaign_id}/resume", ResumeCampaign.Endpoint).WithName("ResumeCampaign")
            .WithSummary("Resume a paused campaign")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapPost("/{campaign_id}/cancel", CancelCampaign.Endpoint).WithName("CancelCampaign")
            .WithSummary("Cancel a campaign for good")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapGet("/{campaign_id}/events", CampaignEvents.Endpoint).WithName("ListCampaignEvents")
            .WithSummary("The campaign's audit trail, oldest first")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapDelete("/{campaign_id}", DeleteCampaign.Endpoint).WithName("DeleteCampaign").WithSummary("Delete a draft campaign")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
    }
}
