using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

/// <summary>
/// What pause, resume and cancel share: the campaign locked, the transition table consulted, the
/// status, its event and any trigger change written in one transaction (Quartz enlisted in it).
/// </summary>
public sealed class CampaignLifecycle(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers)
{
    public abstract record Outcome
    {
        /// <summary>Answered 200 with the campaign, changed now or already as asked.</summary>
        public abstract record Answered(CampaignRows.Row Row) : Outcome;
        public sealed record Changed(CampaignRows.Row Row) : Answered(Row);
        public sealed record AlreadyDone(CampaignRows.Row Row) : Answered(Row);
        public sealed record WrongStatus(CampaignStatus Status) : Outcome;
        public sealed record Stale(int Version) : Outcome;
        public sealed record NotFound : Outcome;
    }

    /// <summary>The new status and what goes with it; <see cref="Alongside"/> runs in the same transaction, scheduler enlisted.</summary>
    public sealed record Change(CampaignStatus To, string EventType, string? PausedReason = null, bool MarkReviewed = false, bool RequestLaunch = false)
    {
        public Func<Scope, Task>? Alongside { get; init; }
    }

    /// <summary>The open transaction (scheduler enlisted) and the campaign as it was before the change.</summary>
    public sealed record Scope(IScheduler Scheduler, NpgsqlConnection Connection, NpgsqlTransaction Transaction,
        CampaignResponse Campaign, DateTimeOffset Now, CancellationToken Ct);

    public async Task<Outcome> ApplyAsync(Guid campaignId, Guid userId, ETags.IfMatch? ifMatch, CampaignStatusRules.LifecycleAction action,
        Func<CampaignResponse, DateTimeOffset, Change> decide, CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<CampaignRows.Row>(new CommandDefinition(
            $"select {CampaignRows.Columns} from campaigns c where c.campaign_id = @campaignId and c.user_id = @userId for update",
            new { campaignId, userId }, transaction, cancellationToken: ct));
        if (row is null)
            return new Outcome.NotFound();
        if (ifMatch is { } precondition && !precondition.Allows(row.Version))
            return new Outcome.Stale(row.Version);
        var campaign = row.Campaign;
        var rule = CampaignStatusRules.Lifecycle[action];
        if (rule.AlreadyDone.Contains(campaign.Status))
            return new Outcome.AlreadyDone(row);
        if (!rule.From.Contains(campaign.Status))
            return new Outcome.WrongStatus(campaign.Status);

        var now = clock.GetUtcNow();
        var change = decide(campaign, now);
        var changed = await connection.QuerySingleAsync<CampaignRows.Row>(new CommandDefinition(Sql, new
        {
            campaignId,
            status = change.To.ToWire(),
            pausedReason = change.PausedReason,
            markReviewed = change.MarkReviewed,
            requestLaunch = change.RequestLaunch,
            jobId = change.RequestLaunch ? Jobs.EnrollLeadsJob.KeyFor(campaignId).ToString() : null,
            now,
        }, transaction, cancellationToken: ct));
        await CampaignEvents.RecordAsync(connection, transaction, campaignId, change.EventType, campaign.Status, change.To,
            CampaignEvents.ByUser, now, ct, reason: change.PausedReason);
        using (scheduler.EnlistTransaction(transaction))
        {
            if (change.RequestLaunch)
                await Jobs.EnrollLeadsJob.ScheduleAsync(scheduler, campaignId, now, ct);
            if (change.Alongside is { } alongside)
                await alongside(new Scope(scheduler, connection, transaction, campaign, now, ct));
            await transaction.CommitAsync(ct);
        }
        return new Outcome.Changed(changed);
    }

    public static Results<Ok<CampaignResponse>, ProblemHttpResult> ToHttp(Outcome outcome, string action, Guid campaignId, HttpResponse response)
    {
        switch (outcome)
        {
            case Outcome.Answered { Row: var row }:
                response.Headers.ETag = ETags.For(row.Version);
                return TypedResults.Ok(row.Campaign);
            case Outcome.WrongStatus wrong:
                return Problems.Conflict($"A {wrong.Status.ToWire()} campaign cannot be {action}.",
                    new Dictionary<string, string[]> { ["status"] = [$"The campaign is {wrong.Status.ToWire()}."] });
            case Outcome.Stale stale:
                return Problems.PreconditionFailed($"If-Match does not match; the campaign is at {ETags.For(stale.Version)}.");
            default:
                return Problems.NotFound($"Campaign {campaignId} was not found.");
        }
    }

    private const string Sql = $"""
        update campaigns c
        set status = @status,
            paused_reason = @pausedReason,
            personalization_reviewed_at = case when @markReviewed then coalesce(c.personalization_reviewed_at, @now) else c.personalization_reviewed_at end,
            launch_requested_at = case when @requestLaunch then @now else c.launch_requested_at end,
            launch_job_id = case when @requestLaunch then @jobId else c.launch_job_id end,
            version = c.version + 1, updated_at = @now
        where c.campaign_id = @campaignId
        returning {CampaignRows.Columns}
        """;
}
