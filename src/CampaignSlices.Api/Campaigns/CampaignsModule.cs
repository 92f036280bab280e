using Carter;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Campaigns;

/// <summary>The route table of the campaigns area.</summary>
public sealed class CampaignsModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var campaigns = app.MapGroup("/api/v1/campaigns").WithTags("Campaigns").WithIdempotencyKeys();
        campaigns.MapPost("/", CreateCampaign.Endpoint).WithName("CreateCampaign").WithETag().WithSummary("Create a campaign (always a draft)")
            .WithDescription("Validates the whole campaign and stores it as a draft owned by the caller. Answers 201 with the campaign, its Location and ETag. Honours Idempotency-Key.")
            .Accepts<CreateCampaign.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        campaigns.MapGet("/", ListCampaigns.Endpoint).WithName("ListCampaigns").WithSummary("List the caller's campaigns, newest first")
            .WithDescription("The caller's campaigns, newest first, optionally filtered by status and type. Pages hold 1 to 200 items (default 50); pass next_cursor back as cursor for the next page.")
            .QueryEnum<CampaignStatus>("status").QueryEnum<CampaignType>("type")
            .QueryInteger("limit", 1, ListCampaigns.MaxLimit, ListCampaigns.DefaultLimit)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapGet("/{campaign_id}", GetCampaign.Endpoint).WithName("GetCampaign").WithETag().WithSummary("Read a campaign")
            .WithDescription("One campaign of the caller, with its ETag for If-Match. Another user's campaign answers 404.")
            .Produces<Campaign>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapPatch("/{campaign_id}", PatchCampaign.Endpoint).WithName("PatchCampaign").WithETag()
            .WithSummary("Change some fields of a campaign, as its status allows")
            .WithDescription("A partial update: fields left out are untouched, an explicit null clears a nullable field. The whole body and the merged campaign are validated before anything is written; a field the status locks answers 409 unless the value sent equals the stored one.")
            .Accepts<CampaignFields>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapGet("/{campaign_id}/preflight", Preflight.Endpoint).WithName("PreflightCampaign")
            .WithSummary("Check the campaign's leads against its steps; writes nothing")
            .WithDescription("Checks every row of the campaign's dataset with the rules the launch uses and answers a summary of all warnings and the first warnings_limit of them (default 100, at most 1000).")
            .QueryInteger("warnings_limit", 0, Preflight.MaxWarningsLimit, Preflight.DefaultWarningsLimit)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapPost("/{campaign_id}/launch", LaunchCampaign.Endpoint).WithName("LaunchCampaign").WithETag()
            .WithSummary("Launch a draft now, or schedule it for its start_date")
            .WithDescription("Runs the preflight check, then launches a draft: immediate launches enroll the launchable rows in the background, scheduled ones wait for start_date. No launchable row, or a start_date already passed, answers 422.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        campaigns.MapPost("/{campaign_id}/pause", PauseCampaign.Endpoint).WithName("PauseCampaign").WithETag()
            .WithSummary("Pause a scheduled or active campaign")
            .WithDescription("Pauses a scheduled or active campaign (paused_reason user_requested). Pausing a paused campaign answers 200 with no change.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapPost("/{campaign_id}/resume", ResumeCampaign.Endpoint).WithName("ResumeCampaign").WithETag()
            .WithSummary("Resume a paused campaign")
            .WithDescription("Resumes a paused campaign: back to active when it was launched, else to scheduled or launching depending on start_date. Resuming an active campaign answers 200 with no change.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapPost("/{campaign_id}/cancel", CancelCampaign.Endpoint).WithName("CancelCampaign").WithETag()
            .WithSummary("Cancel a campaign for good")
            .WithDescription("Cancels a scheduled, active, paused or draining campaign for good; its pending triggers are removed. Cancelling a cancelled campaign answers 200 with no change.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        campaigns.MapGet("/{campaign_id}/stats", Dispatch.GetCampaignStats.Endpoint).WithName("GetCampaignStats")
            .WithSummary("How a running campaign is doing, and why nothing is being sent")
            .WithDescription("Leads by status, actions waiting, leased and done, outcomes by step and variant, actions leased today against daily_limit, "
                + "the next due time, not_sending_reason (null while something can be leased now) and estimated_completion_at (an estimate from the "
                + "remaining steps, the schedule and the limits; null when the campaign is not running or nothing remains).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapGet("/{campaign_id}/events", ListCampaignEvents.Endpoint).WithName("ListCampaignEvents")
            .WithSummary("The campaign's audit trail, oldest first")
            .WithDescription("Every status change and update of the campaign, oldest first, with who made it (user or system).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapGet("/{campaign_id}/leads", ListLeads.Endpoint).WithName("ListLeads")
            .WithSummary("The campaign's leads by row number")
            .WithDescription("The campaign's leads in row order, each with its status, step, next due time and sender, optionally of one status. Pages hold 1 to 200 items (default 50); pass next_cursor back as cursor for the next page. A campaign not launched yet has none.")
            .QueryEnum<LeadStatus>("status")
            .QueryInteger("limit", 1, ListLeads.MaxLimit, ListLeads.DefaultLimit)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapGet("/{campaign_id}/leads/{row_number}", GetLead.Endpoint).WithName("GetLead")
            .WithSummary("One lead of the campaign with its actions")
            .WithDescription("The lead on row row_number of the campaign with every action it had, oldest first: who leased it, until when, and the outcome that closed it. A row with no lead answers 404.")
            .PathInteger("row_number", 1)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        campaigns.MapDelete("/{campaign_id}", DeleteCampaign.Endpoint).WithName("DeleteCampaign").WithSummary("Delete a draft campaign")
            .WithDescription("Deletes a draft campaign; any other status answers 409.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
    }
}
