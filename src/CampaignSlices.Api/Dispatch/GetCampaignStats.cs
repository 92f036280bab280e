// How a campaign is running: its leads and actions counted, why nothing is being sent when nothing is, and when it may finish.
// The reason is worked out with the same plan, schedule and counters the lease uses.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using NodaTime;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public enum NotSendingReason { Paused, OutsideSchedule, DailyLimitReached, SendersAtLimit, NothingDue, Ended }

public static class GetCampaignStats
{
    /// <summary>How far ahead the estimate looks before it gives up (the schedule allows too little, or nothing).</summary>
    private const int EstimateHorizonDays = 366;

    public sealed record Response(Guid CampaignId, CampaignStatus Status, LeadCounts Leads, ActionCounts Actions, List<OutcomeCount> Outcomes,
        List<EventCount> Events, int LeasedToday, int DailyLimit, DateTimeOffset? NextActionAt, NotSendingReason? NotSendingReason, DateTimeOffset? EstimatedCompletionAt)
        : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string>
        {
            "campaign_id", "status", "leads", "actions", "outcomes", "events", "leased_today", "daily_limit",
        };
    }

    /// <summary>Leads by status; processed is completed + stopped + failed, and with in play they add up to total.</summary>
    public sealed record LeadCounts(int Total, int Pending, int Active, int Completed, int Stopped, int Failed, int Processed) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string>
        {
            "total", "pending", "active", "completed", "stopped", "failed", "processed",
        };
    }

    /// <summary>Waiting: a lead in play whose current action is not out with a worker; leased: out, lease running; done: closed by an outcome.</summary>
    public sealed record ActionCounts(int Waiting, int Leased, int Done) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "waiting", "leased", "done" };
    }

    /// <summary>Outcomes counted by step and variant (null for a step without variants).</summary>
    public sealed record OutcomeCount(int Step, string? Variant, ActionOutcome Outcome, int Count) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "step", "outcome", "count" };
    }

    /// <summary>Lead events counted by the step and variant of the action they follow (null for an event before any action closed).</summary>
    public sealed record EventCount(int? Step, string? Variant, LeadEventType Type, int Count) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "type", "count" };
    }

    public sealed record Query(Guid CampaignId, Guid UserId) : IQuery<OneOf<Response, Missing>>;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, CancellationToken ct) =>
        (await sender.Send(new Query(campaignId, user.UserId()), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            stats => TypedResults.Ok(stats), notFound => notFound.ToProblem());

    private sealed class Counts
    {
        public int Total { get; init; }
        public int Pending { get; init; }
        public int Active { get; init; }
        public int Completed { get; init; }
        public int Stopped { get; init; }
        public int Failed { get; init; }
        public int Waiting { get; init; }
        public int Leased { get; init; }
        public int Done { get; init; }
        public int DueNow { get; init; }
        public DateTimeOffset? NextActionAt { get; init; }
        public int RemainingActions { get; init; }
        public DateTimeOffset? LatestByDelays { get; init; }
        public DateOnly? PacingDay { get; init; }
        public int PacingLeased { get; init; }
    }

    private sealed class SenderRow
    {
        public string SenderId { get; init; } = "";
        public DateOnly? Day { get; init; }
        public int LeasedOnDay { get; init; }
        public DateTimeOffset? LastLeasedAt { get; init; }
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IQueryHandler<Query, OneOf<Response, Missing>>
    {
        public async ValueTask<OneOf<Response, Missing>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await CampaignStore.FindAsync(connection, query.CampaignId, query.UserId, ct) is not { } campaign)
                return CampaignNotFound.For(query.CampaignId);
            var now = clock.GetUtcNow();
            var plan = CampaignPlans.For(campaign);
            // Minutes of delay still ahead of a lead on step n: the delays of the steps after it.
            var delaysAfter = Enumerable.Range(1, campaign.Steps.Count)
                .Select(step => campaign.Steps.Skip(step).Sum(later => later.TotalDelayMinutes)).ToArray();
            await using var read = await connection.QueryMultipleAsync(new CommandDefinition(StatsSql, new
            {
                campaign_id = campaign.CampaignId, now, steps = campaign.Steps.Count, delays_after = delaysAfter,
            }, cancellationToken: ct));
            var counts = await read.ReadSingleAsync<Counts>();
            var outcomes = (await read.ReadAsync<(int Step, string? Variant, string Outcome, int Count)>())
                .Select(o => new OutcomeCount(o.Step, o.Variant, (ActionOutcome)Json.FromWire(typeof(ActionOutcome), o.Outcome), o.Count)).ToList();
            var events = (await read.ReadAsync<(int? Step, string? Variant, string Type, int Count)>())
                .Select(e => new EventCount(e.Step, e.Variant, (LeadEventType)Json.FromWire(typeof(LeadEventType), e.Type), e.Count)).ToList();
            var senders = (await read.ReadAsync<SenderRow>()).ToList();

            var today = plan.Today(Instant.FromDateTimeOffset(now)).ToDateOnly();
            var leasedToday = counts.PacingDay == today ? counts.PacingLeased : 0;
            var running = CampaignStatusRules.Dispatching.Contains(campaign.Status);
            return new Response(campaign.CampaignId, campaign.Status,
                new LeadCounts(counts.Total, counts.Pending, counts.Active, counts.Completed, counts.Stopped, counts.Failed,
                    counts.Completed + counts.Stopped + counts.Failed),
                new ActionCounts(counts.Waiting, counts.Leased, counts.Done), outcomes, events, leasedToday, campaign.DailyLimit ?? 0,
                counts.NextActionAt, Reason(campaign, plan, counts, senders, leasedToday, today, now),
                running ? Estimate(plan, counts, senders, leasedToday, now) : null);
        }

        /// <summary>
        /// Null while the lease would hand out something now. Otherwise the first that holds, in the order the claim checks:
        /// the campaign not running, the day's daily_limit spent, every sender at its account limit or inside its
        /// min_interval, now outside the schedule (read in the campaign's timezone), or no step due yet.
        /// </summary>
        private static NotSendingReason? Reason(Campaign campaign, CampaignPlans.Plan plan, Counts counts, List<SenderRow> senders, int leasedToday,
            DateOnly today, DateTimeOffset now)
        {
            if (campaign.Status == CampaignStatus.Paused)
                return NotSendingReason.Paused;
            if (campaign.Status is CampaignStatus.Completed or CampaignStatus.Cancelled or CampaignStatus.Failed)
                return NotSendingReason.Ended;
            if (!CampaignStatusRules.Dispatching.Contains(campaign.Status))
                return NotSendingReason.NothingDue;
            if (leasedToday >= campaign.DailyLimit)
                return NotSendingReason.DailyLimitReached;
            if (senders.Count > 0 && senders.All(sender => !plan.SenderFree(sender.SenderId, sender.LastLeasedAt, sender.Day, sender.LeasedOnDay, today, now)))
                return NotSendingReason.SendersAtLimit;
            var instant = Instant.FromDateTimeOffset(now);
            if (plan.Schedule.NextAllowed(instant, plan.Zone) != instant)
                return NotSendingReason.OutsideSchedule;
            return counts.DueNow > 0 ? null : NotSendingReason.NothingDue;
        }

        /// <summary>
        /// An estimate, not a promise: the later of (a) when the slowest lead could finish by its remaining step delays
        /// alone, moved into the schedule, and (b) the end of the allowed day on which the remaining actions are used up
        /// at the campaign's daily capacity (daily_limit, or what its senders can do under their account limits and
        /// min_interval within the day's windows, or for calls what attempts_per_second allows in them, whichever is
        /// less). Null when nothing remains or no day in the coming year has capacity.
        /// </summary>
        private static DateTimeOffset? Estimate(CampaignPlans.Plan plan, Counts counts, List<SenderRow> senders, int leasedToday, DateTimeOffset now)
        {
            if (counts.RemainingActions == 0)
                return null;
            var campaign = plan.Campaign;
            var zone = plan.Zone;
            var instant = Instant.FromDateTimeOffset(now);
            var byDelays = counts.LatestByDelays is { } latest ? LeadTiming.Due(plan.Schedule, latest, zone) : null;
            var interval = Math.Max(1, campaign.MinIntervalSeconds ?? 1);
            var remaining = counts.RemainingActions;
            var day = plan.Today(instant);
            for (var i = 0; i < EstimateHorizonDays; i++, day = day.PlusDays(1))
            {
                var dayStart = zone.AtStartOfDay(day).ToInstant();
                var windows = plan.Schedule.Windows(i == 0 ? instant : dayStart, zone.AtStartOfDay(day.PlusDays(1)).ToInstant(), zone);
                var seconds = windows.Sum(w => (w.End - w.Start).TotalSeconds);
                if (seconds <= 0)
                    continue;
                // Calls are paced by attempts_per_second over the day's windows, not by their connections.
                var bySenders = plan.Calls is { } rate
                    ? (int)Math.Min(int.MaxValue, Math.Floor(seconds / rate.Window.TotalSeconds + 1) * rate.Calls)
                    : senders.Count == 0
                        ? int.MaxValue
                        : senders.Sum(sender => Math.Min(plan.AccountLimits.TryGetValue(sender.SenderId, out var cap) ? cap : int.MaxValue,
                            (int)(seconds / interval) + 1));
                var capacity = Math.Min(campaign.DailyLimit!.Value - (i == 0 ? leasedToday : 0), bySenders);
                remaining -= Math.Max(0, capacity);
                if (remaining <= 0)
                {
                    var byCapacity = windows[^1].End.ToDateTimeOffset();
                    return byDelays is { } delayed && delayed > byCapacity ? delayed : byCapacity;
                }
            }
            return null;
        }
    }

    // Counts from the leads and actions of one campaign (a lead's waiting action has no row while it waits, so
    // waiting counts leads); then outcomes by step and variant; then lead events likewise; then the senders' pacing.
    private const string StatsSql = """
        with lead_counts as (
            select count(*)::int as total,
                   (count(*) filter (where l.status = 'pending'))::int as pending,
                   (count(*) filter (where l.status = 'active'))::int as active,
                   (count(*) filter (where l.status = 'completed'))::int as completed,
                   (count(*) filter (where l.status = 'stopped'))::int as stopped,
                   (count(*) filter (where l.status = 'failed'))::int as failed,
                   (count(*) filter (where l.status in ('pending', 'active') and not coalesce(a.state = 'leased' and a.lease_expires_at > @now, false)))::int as waiting,
                   (count(*) filter (where l.status in ('pending', 'active') and l.next_action_at <= @now))::int as due_now,
                   min(l.next_action_at) filter (where l.status in ('pending', 'active')
                       and not coalesce(a.state = 'leased' and a.lease_expires_at > @now, false)) as next_action_at,
                   coalesce(sum(@steps - l.current_step + 1) filter (where l.status in ('pending', 'active')), 0)::int as remaining_actions,
                   max(greatest(coalesce(l.next_action_at, @now), @now) + (@delays_after::int[])[l.current_step] * interval '1 minute')
                       filter (where l.status in ('pending', 'active')) as latest_by_delays
            from leads l
            left join actions a on a.action_id = l.open_action_id
            where l.campaign_id = @campaign_id
        ),
        action_counts as (
            select (count(*) filter (where state = 'leased' and lease_expires_at > @now))::int as leased,
                   (count(*) filter (where state = 'closed'))::int as done
            from actions where campaign_id = @campaign_id
        )
        select c.total, c.pending, c.active, c.completed, c.stopped, c.failed, c.waiting, a.leased, a.done, c.due_now, c.next_action_at,
               c.remaining_actions, c.latest_by_delays, p.day as pacing_day, coalesce(p.leased_on_day, 0) as pacing_leased
        from lead_counts c cross join action_counts a
        left join campaign_pacing p on p.campaign_id = @campaign_id;

        select step, variant, outcome, count(*)::int as count
        from actions
        where campaign_id = @campaign_id and state = 'closed'
        group by step, variant, outcome
        order by step, variant nulls first, outcome;

        select step, variant, type, count(*)::int as count
        from lead_events
        where campaign_id = @campaign_id
        group by step, variant, type
        order by step nulls first, variant nulls first, type;

        select sender_id, day, leased_on_day, last_leased_at from campaign_senders where campaign_id = @campaign_id order by sender_id;
        """;
}
