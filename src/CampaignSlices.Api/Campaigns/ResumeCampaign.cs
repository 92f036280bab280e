// Resumes a paused campaign: back to active if it was launched, else to scheduled or launching.
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class ResumeCampaign
{
    public sealed record Command(Guid CampaignId, Guid UserId, ETags.IfMatch? IfMatch) : CampaignLifecycle.IAction;

    public static readonly Delegate Endpoint = CampaignLifecycle.Endpoint((campaignId, userId, ifMatch) => new Command(campaignId, userId, ifMatch));

    public sealed class Handler(CampaignLifecycle lifecycle) : ICommandHandler<Command, OneOf<Campaign, WrongStatus, Stale, Missing>>
    {
        public async ValueTask<OneOf<Campaign, WrongStatus, Stale, Missing>> Handle(Command command, CancellationToken ct) =>
            await lifecycle.ApplyAsync(command, LifecycleAction.Resume, "resumed", Decide, ct);

        private static CampaignLifecycle.Change Decide(Campaign campaign, DateTimeOffset now)
        {
            // Resuming a hold for review is the owner's decision to launch as it stands.
            var heldForReview = campaign.PausedReason == StartScheduledLaunch.PendingReview;
            var target = CampaignStatusRules.ResumeTarget(campaign, now);
            var transition = CampaignStatusRules.Change(campaign.Status, target, CampaignEventType.Resumed);
            return target switch
            {
                // Long-polling workers are woken: leads that fell due while paused are due now (within their schedule).
                CampaignStatus.Active => new(transition)
                {
                    Alongside = scope => scope.Connection.ExecuteAsync(new CommandDefinition(DueWork.NotifySql, transaction: scope.Transaction,
                        cancellationToken: scope.Ct)),
                },
                CampaignStatus.Scheduled => new(transition, MarkReviewed: heldForReview, Job: CampaignLifecycle.LaunchJob.ScheduledStart)
                {
                    Alongside = scope => ScheduledLaunchJob.ScheduleAsync(scope.Scheduler, campaign.CampaignId, campaign.StartDate!.Value, scope.Ct),
                },
                _ => new(transition, MarkReviewed: heldForReview, Job: CampaignLifecycle.LaunchJob.Enrollment),
            };
        }
    }
}
