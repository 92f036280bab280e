// Pauses a scheduled or active campaign for the user; a scheduled one loses its trigger until resumed.
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Mediator;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class PauseCampaign
{
    public const string UserRequested = "user_requested";

    public sealed record Command(Guid CampaignId, Guid UserId, ETags.IfMatch? IfMatch) : CampaignLifecycle.IAction;

    public static readonly Delegate Endpoint = CampaignLifecycle.Endpoint((campaignId, userId, ifMatch) => new Command(campaignId, userId, ifMatch));

    public sealed class Handler(CampaignLifecycle lifecycle) : ICommandHandler<Command, OneOf<Campaign, WrongStatus, Stale, Missing>>
    {
        public async ValueTask<OneOf<Campaign, WrongStatus, Stale, Missing>> Handle(Command command, CancellationToken ct) =>
            await lifecycle.ApplyAsync(command, LifecycleAction.Pause, "paused", Decide, ct);

        private static CampaignLifecycle.Change Decide(Campaign campaign, DateTimeOffset now) =>
            new(CampaignStatusRules.Change(campaign.Status, CampaignStatus.Paused, CampaignEventType.Paused), PausedReason: UserRequested,
                // A scheduled campaign's start trigger is removed; resume makes it again.
                Job: campaign.Status == CampaignStatus.Scheduled ? CampaignLifecycle.LaunchJob.Cleared : CampaignLifecycle.LaunchJob.Kept)
            {
                Alongside = campaign.Status == CampaignStatus.Scheduled
                    ? scope => ScheduledLaunchJob.UnscheduleAsync(scope.Scheduler, campaign.CampaignId, scope.Ct)
                    : null,
            };
    }
}
