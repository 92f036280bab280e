using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

/// <summary>
/// What pause, resume and cancel share: the campaign locked, the transition table consulted, the
/// status, its event and any trigger change written in one transaction (Quartz enlisted in it).
/// </summary>
public sealed class CampaignLifecycle(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers)
{
    /// <summary>A user action on a campaign: its id, the caller, and the If-Match it was sent with.</summary>
    public interface IAction : ICommand<OneOf<Campaign, WrongStatus, Stale, Missing>>
    {
        Guid CampaignId { get; }
        Guid UserId { get; }
        ETags.IfMatch? IfMatch { get; }
    }

    /// <summary>What launch_job_id names after a change: as it was, nothing (its trigger is gone), or the job now pending.</summary>
    public enum LaunchJob { Kept, Cleared, Enrollment, ScheduledStart }

    /// <summary>The new status and what goes with it; <see cref="Alongside"/> runs in the same transaction, scheduler enlisted.</summary>
    public sealed record Change(CampaignStatusRules.StatusChange Transition, string? PausedReason = null, bool MarkReviewed = false,
        LaunchJob Job = LaunchJob.Kept)
    {
        /// <summary>An enrollment is requested now (launch_requested_at is set and the job scheduled).</summary>
        public bool RequestsLaunch => Job == LaunchJob.Enrollment;

        public Func<Scope, Task>? Alongside { get; init; }
    }

    /// <summary>The open transaction (scheduler enlisted) and the campaign as it was before the change.</summary>
    public sealed record Scope(IScheduler Scheduler, NpgsqlConnection Connection, NpgsqlTransaction Transaction,
        Campaign Campaign, DateTimeOffset Now, CancellationToken Ct);

    /// <summary>The campaign changed, or already as asked (200 either way), or why not.</summary>
    public async Task<OneOf<Campaign, WrongStatus, Stale, Missing>> ApplyAsync(IAction request, LifecycleAction action, string done,
        Func<Campaign, DateTimeOffset, Change> decide, CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await CampaignStore.LockAsync(connection, transaction, request.CampaignId, request.UserId, ct) is not { } campaign)
            return CampaignNotFound.For(request.CampaignId);
        if (request.IfMatch is { } precondition && !precondition.Allows(campaign.Version))
            return new Stale(campaign.Version);
        var rule = CampaignStatusRules.Lifecycle[action];
        if (rule.AlreadyDone.Contains(campaign.Status))
            return campaign;
        if (!rule.From.Contains(campaign.Status))
            return new WrongStatus(campaign.Status, $"A {campaign.Status.ToWire()} campaign cannot be {done}.");

        var now = clock.GetUtcNow();
        var change = decide(campaign, now);
        var changed = await CampaignStore.ReadSingleAsync(connection, new CommandDefinition(Sql, new
        {
            campaignId = request.CampaignId,
            status = change.Transition.To.ToWire(),
            pausedReason = change.PausedReason,
            markReviewed = change.MarkReviewed,
            requestLaunch = change.RequestsLaunch,
            keepJob = change.Job == LaunchJob.Kept,
            // Cancel stops every lead still in play (its Alongside), so all are processed.
            allProcessed = change.Transition.To == CampaignStatus.Cancelled,
            jobId = change.Job switch
            {
                LaunchJob.Enrollment => EnrollLeadsJob.KeyFor(request.CampaignId).ToString(),
                LaunchJob.ScheduledStart => ScheduledLaunchJob.JobFor(request.CampaignId).ToString(),
                _ => null,
            },
            now,
        }, transaction, cancellationToken: ct));
        await CampaignEvents.RecordStatusChangeAsync(connection, transaction, request.CampaignId, change.Transition, CampaignEvents.ByUser, now, ct,
            reason: change.PausedReason);
        using (scheduler.EnlistTransaction(transaction))
        {
            if (change.RequestsLaunch)
                await EnrollLeadsJob.ScheduleAsync(scheduler, request.CampaignId, now, ct);
            if (change.Alongside is { } alongside)
                await alongside(new Scope(scheduler, connection, transaction, campaign, now, ct));
            await transaction.CommitAsync(ct);
        }
        return changed!;
    }

    /// <summary>The endpoint of a lifecycle action: the command made from the route and the caller, sent, its outcome mapped.</summary>
    public static Delegate Endpoint(Func<Guid, Guid, ETags.IfMatch?, IAction> command) =>
        async ([FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, HttpRequest request, HttpResponse response,
            CancellationToken ct) => ToHttp(await sender.Send(command(campaignId, user.UserId(), ETags.Precondition(request)), ct), response);

    /// <summary>The one HTTP mapping of a lifecycle outcome.</summary>
    public static Results<Ok<Campaign>, ProblemHttpResult> ToHttp(OneOf<Campaign, WrongStatus, Stale, Missing> outcome, HttpResponse response) =>
        outcome.Match<Results<Ok<Campaign>, ProblemHttpResult>>(
            campaign =>
            {
                response.Headers.ETag = ETags.For(campaign.Version);
                return TypedResults.Ok(campaign);
            },
            wrong => wrong.ToProblem(),
            stale => stale.ToProblem(),
            notFound => notFound.ToProblem());

    private static readonly string Sql = $"""
        update campaigns c
        set status = @status,
            paused_reason = @pausedReason,
            personalization_reviewed_at = case when @markReviewed then coalesce(c.personalization_reviewed_at, @now) else c.personalization_reviewed_at end,
            launch_requested_at = case when @requestLaunch then @now else c.launch_requested_at end,
            launch_job_id = case when @keepJob then c.launch_job_id else @jobId end,
            processed_leads = case when @allProcessed then c.total_leads else c.processed_leads end,
            updated_at = @now
        where c.campaign_id = @campaignId
        returning {CampaignStore.Columns}
        """;
}
