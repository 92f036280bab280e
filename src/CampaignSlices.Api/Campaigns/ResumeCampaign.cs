// Resumes a paused campaign (SPEC 5.4): back to active if it was launched, else to scheduled or launching.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CampaignSlices.Api.Campaigns;

public static class ResumeCampaign
{
    public static async Task<Results<Ok<CampaignResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, CampaignLifecycle lifecycle,
        HttpRequest request, HttpResponse response, CancellationToken ct)
    {
        var outcome = await lifecycle.ApplyAsync(campaignId, user.UserId(), ETags.Precondition(request),
            CampaignStatusRules.LifecycleAction.Resume, Decide, ct);
        return CampaignLifecycle.ToHttp(outcome, "resumed", campaignId, response);
    }

    private static CampaignLifecycle.Change Decide(CampaignResponse campaign, DateTimeOffset now)
    {
        // Resuming a hold for review is the owner's decision to launch as it stands.
        var heldForReview = campaign.PausedReason == StartScheduledLaunch.PendingReview;
        return CampaignStatusRules.ResumeTarget(campaign, now) switch
        {
            CampaignStatus.Active => new(CampaignStatus.Active, "resumed"),
            CampaignStatus.Scheduled => new(CampaignStatus.Scheduled, "resumed", MarkReviewed: heldForReview)
            {
                Alongside = scope => ScheduledLaunchJob.ScheduleAsync(scope.Scheduler, campaign.CampaignId, campaign.StartDate!.Value, scope.Ct),
            },
            _ => new(CampaignStatus.Launching, "resumed", MarkReviewed: heldForReview, RequestLaunch: true),
        };
    }
}
