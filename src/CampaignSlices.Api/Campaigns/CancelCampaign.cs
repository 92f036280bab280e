// Cancels a scheduled, active, paused or draining campaign for good: its trigger is removed and its leads stop.
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class CancelCampaign
{
    public sealed record Command(Guid CampaignId, Guid UserId, ETags.IfMatch? IfMatch) : CampaignLifecycle.IAction;

    public static readonly Delegate Endpoint = CampaignLifecycle.Endpoint((campaignId, userId, ifMatch) => new Command(campaignId, userId, ifMatch));

    public sealed class Handler(CampaignLifecycle lifecycle) : ICommandHandler<Command, OneOf<Campaign, WrongStatus, Stale, Missing>>
    {
        public async ValueTask<OneOf<Campaign, WrongStatus, Stale, Missing>> Handle(Command command, CancellationToken ct) =>
            await lifecycle.ApplyAsync(command, LifecycleAction.Cancel, "cancelled", Decide, ct);

        private static CampaignLifecycle.Change Decide(Campaign campaign, DateTimeOffset now) =>
            new(CampaignStatusRules.Change(campaign.Status, CampaignStatus.Cancelled, CampaignEventType.Cancelled),
                // Never launched: the pending start trigger goes, and nothing names it. Launched: the job that did it stays on record.
                Job: campaign.LaunchedAt is null ? CampaignLifecycle.LaunchJob.Cleared : CampaignLifecycle.LaunchJob.Kept)
            {
                Alongside = async scope =>
                {
                    await ScheduledLaunchJob.UnscheduleAsync(scope.Scheduler, campaign.CampaignId, scope.Ct);
                    await scope.Connection.ExecuteAsync(new CommandDefinition(StopLeadsSql, new
                    {
                        campaignId = campaign.CampaignId,
                        stopped = LeadStatus.Stopped.ToWire(),
                        inPlay = CampaignStatusRules.LeadsInPlay.Select(status => status.ToWire()).ToArray(),
                        now = scope.Now,
                    }, scope.Transaction, cancellationToken: scope.Ct));
                },
            };
    }

    // Waiting actions (given back, due again) close; outstanding leases stay open, and their outcomes are recorded and lead to nothing.
    private const string StopLeadsSql = """
        update leads set status = @stopped, stop_reason = 'cancelled', next_action_at = null, updated_at = @now
        where campaign_id = @campaignId and status = any(@inPlay);
        update actions set state = 'cancelled', reported_at = @now
        where campaign_id = @campaignId and state = 'released';
        """;
}
