// Pauses a scheduled or active campaign for the user; a scheduled one loses its trigger until resumed.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CampaignSlices.Api.Campaigns;

public static class PauseCampaign
{
    public const string UserRequested = "user_requested";

    public static async Task<Results<Ok<CampaignResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, CampaignLifecycle lifecycle,
        HttpRequest request, HttpResponse response, CancellationToken ct)
    {
        var outcome = await lifecycle.ApplyAsync(campaignId, user.UserId(), ETags.Precondition(request),
            CampaignStatusRules.LifecycleAction.Pause, Decide, ct);
        return CampaignLifecycle.ToHttp(outcome, "paused", campaignId, response);
    }

    private static CampaignLifecycle.Change Decide(CampaignResponse campaign, DateTimeOffset now) =>
        new(CampaignStatus.Paused, "paused", PausedReason: UserRequested)
        {
            Alongside = campaign.Status == CampaignStatus.Scheduled
                ? scope => ScheduledLaunchJob.UnscheduleAsync(scope.Scheduler, campaign.CampaignId, scope.Ct)
                : null,
        };
}
