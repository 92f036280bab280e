using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Campaigns;

/// <summary>The route table of the campaigns area.</summary>
public static class CampaignEndpoints
{
    public static void AddCampaigns(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CampaignValidator>();
        builder.Services.AddSingleton<CampaignRequestValidator>();
        builder.Services.AddSingleton<CreateCampaign.Handler>();
        builder.Services.AddSingleton<PatchCampaign.Handler>();
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
        campaigns.MapDelete("/{campaign_id}", DeleteCampaign.Endpoint).WithName("DeleteCampaign").WithSummary("Delete a draft campaign")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status412PreconditionFailed);
    }
}
