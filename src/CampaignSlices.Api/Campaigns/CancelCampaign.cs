// Cancels a scheduled, active, paused or draining campaign for good: its trigger is removed and its leads stop.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CampaignSlices.Api.Campaigns;

public static class CancelCampaign
{
    public static async Task<Results<Ok<CampaignResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, CampaignLifecycle lifecycle,
        HttpRequest request, HttpResponse response, CancellationToken ct)
    {
        var outcome = await lifecycle.ApplyAsync(campaignId, user.UserId(), ETags.Precondition(request),
            CampaignStatusRules.LifecycleAction.Cancel, Decide, ct);
        return CampaignLifecycle.ToHttp(outcome, "cancelled", campaignId, response);
    }

    private static CampaignLifecycle.Change Decide(CampaignResponse campaign, DateTimeOffset now) =>
        new(CampaignStatus.Cancelled, "cancelled")
        {
            Alongside = async scope =>
            {
                await ScheduledLaunchJob.UnscheduleAsync(scope.Scheduler, campaign.CampaignId, scope.Ct);
                await scope.Connection.ExecuteAsync(new CommandDefinition(StopLeadsSql,
                    new { campaignId = campaign.CampaignId, now = scope.Now }, scope.Transaction, cancellationToken: scope.Ct));
            },
        };

    private const string StopLeadsSql = """
        update leads set status = 'stopped', next_action_at = null, updated_at = @now
        where campaign_id = @campaignId and status in ('pending', 'active')
        """;
}
