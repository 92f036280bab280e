using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NodaTime;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public enum ActionOutcome { Sent, Skipped, Completed, Bounced, Failed, Busy, NoAnswer, ShortDuration, ProviderError, InternalError }

/// <summary>The token given no longer holds the action (leased again, given back, or closed by another outcome): 409, nothing changed.</summary>
public sealed record LeaseLost(string Detail)
{
    /// <summary>What a heartbeat or a release with a token that no longer holds its action is told.</summary>
    public static LeaseLost NotHeld { get; } =
        new("This lease token no longer holds the action: its lease ended, or it was given back, leased again or reported.");

    public ProblemHttpResult ToProblem() => Problems.Conflict(Detail);
}

/// <summary>
/// Closes actions with their outcomes, many at once, in one transaction with every effect: the lead
/// moves to its next step (due after the step's delay, in its schedule), to another attempt of a call
/// (<see cref="CallRetries"/>), or out of play; the campaign's processed_leads follows, and a campaign with
/// no lead left in play completes. Locks are taken in one order everywhere (campaign, action, lead), so
/// concurrent reports, cancels and PATCHes never deadlock.
/// </summary>
public sealed class OutcomeRecorder(NpgsqlDataSource db, CampaignPlans plans, TimeProvider clock, DispatchMetrics metrics)
{
    public sealed record Report(Guid ActionId, Guid LeaseToken, ActionOutcome Outcome, string? Detail, int? DurationSeconds,
        string? ProviderReference, DateTimeOffset? OccurredAt);

    public sealed record Recorded(Guid ActionId, ActionOutcome Outcome, LeadStatus LeadStatus, DateTimeOffset? NextActionAt);

    /// <summary>What closes a call whose lease ended without an outcome: it may have been dialled, so it is never offered again.</summary>
    public const string ExpiredCallDetail = "The lease expired before an outcome was reported; the call is not dialled again blindly.";

    /// <summary>The outcomes each channel's actions close with.</summary>
    public static readonly IReadOnlyDictionary<StepChannel, IReadOnlySet<ActionOutcome>> OutcomesOf = new Dictionary<StepChannel, IReadOnlySet<ActionOutcome>>
    {
        [StepChannel.Email] = new HashSet<ActionOutcome> { ActionOutcome.Sent, ActionOutcome.Skipped, ActionOutcome.Bounced, ActionOutcome.Failed },
        [StepChannel.Linkedin] = new HashSet<ActionOutcome> { ActionOutcome.Sent, ActionOutcome.Skipped, ActionOutcome.Failed },
        [StepChannel.Call] = new HashSet<ActionOutcome>
        {
            ActionOutcome.Completed, ActionOutcome.Failed, ActionOutcome.Busy, ActionOutcome.NoAnswer, ActionOutcome.ShortDuration,
            ActionOutcome.ProviderError, ActionOutcome.InternalError,
        },
    };

    private sealed class ActionRow
    {
        public Guid ActionId { get; init; }
        public Guid CampaignId { get; init; }
        public int RowNumber { get; init; }
        public int Step { get; init; }
        public int Attempt { get; init; }
        public string Channel { get; init; } = "";
        public string State { get; set; } = "";
        public Guid? LeaseToken { get; init; }
        public DateTimeOffset? LeaseExpiresAt { get; init; }
        public int EarlierProviderErrors { get; init; }
        public int EarlierInternalErrors { get; init; }
        public Guid? ClosingToken { get; set; }
        public string? Outcome { get; set; }
        public string? AnsweredLeadStatus { get; set; }
        public DateTimeOffset? AnsweredNextActionAt { get; set; }
        public Report? Closing { get; set; }
    }

    private sealed class LeadRow
    {
        public Guid CampaignId { get; init; }
        public int RowNumber { get; init; }
        public string Status { get; set; } = "";
        public int CurrentStep { get; set; }
        public int Attempt { get; set; }
        public string Channel { get; set; } = "";
        public string? Timezone { get; init; }
        public Guid? OpenActionId { get; set; }
        public DateTimeOffset? EarliestAt { get; set; }
        public DateTimeOffset? NextActionAt { get; set; }
        public string? LastOutcome { get; set; }
        public bool Changed { get; set; }
    }

    public async Task<List<OneOf<Recorded, Missing, LeaseLost, Invalid>>> RecordAsync(IReadOnlyList<Report> reports, CancellationToken ct) =>
        await CloseAsync(reports.Select(r => r.ActionId).Distinct().ToArray(), _ => reports, ct);

    /// <summary>
    /// Closes call actions whose lease ended unreported as internal_error (retried as retry_config says), among
    /// <paramref name="actionIds"/>, or every such action when null. Answers how many it closed.
    /// </summary>
    public async Task<int> ExpireCallLeasesAsync(IReadOnlyCollection<Guid>? actionIds, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var ids = actionIds?.ToArray();
        if (ids is null)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            ids = [.. await connection.QueryAsync<Guid>(new CommandDefinition(ExpiredCallsSql, new { now }, cancellationToken: ct))];
        }
        if (ids.Length == 0)
            return 0;
        var results = await CloseAsync(ids, actions => [.. actions.Values
            .Where(a => a.Channel == "call" && a.State == "leased" && a.LeaseExpiresAt <= now && a.LeaseToken is not null)
            .Select(a => new Report(a.ActionId, a.LeaseToken!.Value, ActionOutcome.InternalError, ExpiredCallDetail, null, null, null))], ct);
        var expired = results.Count(result => result.IsT0);
        if (expired > 0)
            metrics.Expired("call", expired);
        return expired;
    }

    private async Task<List<OneOf<Recorded, Missing, LeaseLost, Invalid>>> CloseAsync(Guid[] ids,
        Func<IReadOnlyDictionary<Guid, ActionRow>, IReadOnlyList<Report>> reportsFor, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // The campaigns, the actions and their leads, locked in that order in one round trip.
        Dictionary<Guid, DateTimeOffset> versions;
        Dictionary<Guid, ActionRow> actions;
        Dictionary<(Guid, int), LeadRow> leads;
        await using (var locked = await connection.QueryMultipleAsync(new CommandDefinition(DispatchPlans.Generic + LockCampaignsSql + LockActionsSql + LockLeadsSql,
            new { ids }, transaction, cancellationToken: ct)))
        {
            versions = (await locked.ReadAsync<(Guid CampaignId, DateTimeOffset UpdatedAt)>()).ToDictionary(v => v.CampaignId, v => v.UpdatedAt);
            actions = (await locked.ReadAsync<ActionRow>()).ToDictionary(a => a.ActionId);
            leads = (await locked.ReadAsync<LeadRow>()).ToDictionary(l => (l.CampaignId, l.RowNumber));
        }
        var campaignPlans = await plans.GetAsync(connection, transaction, versions, ct);

        var reports = reportsFor(actions);
        var results = new List<OneOf<Recorded, Missing, LeaseLost, Invalid>>(reports.Count);
        var processed = new Dictionary<Guid, int>();
        foreach (var report in reports)
            results.Add(Apply(report, actions, leads, campaignPlans, processed, now));

        // The actions closed, their leads moved and their campaigns' counters, in one round trip.
        var closed = actions.Values.Where(a => a.Closing is not null).ToList();
        var changed = leads.Values.Where(l => l.Changed).ToList();
        var writes = new List<string>();
        var parameters = new DynamicParameters();
        if (closed.Count > 0)
        {
            writes.Add(CloseActionsSql);
            parameters.AddDynamicParams(new
            {
                ids = closed.Select(a => a.ActionId).ToArray(),
                outcomes = closed.Select(a => a.Outcome).ToArray(),
                details = closed.Select(a => a.Closing!.Detail).ToArray(),
                durations = closed.Select(a => a.Closing!.DurationSeconds).ToArray(),
                references = closed.Select(a => a.Closing!.ProviderReference).ToArray(),
                occurred = closed.Select(a => a.Closing!.OccurredAt).ToArray(),
                tokens = closed.Select(a => a.ClosingToken).ToArray(),
                statuses = closed.Select(a => a.AnsweredLeadStatus).ToArray(),
                nexts = closed.Select(a => a.AnsweredNextActionAt).ToArray(),
            });
        }
        if (changed.Count > 0)
        {
            writes.Add(UpdateLeadsSql);
            parameters.AddDynamicParams(new
            {
                lead_campaigns = changed.Select(l => l.CampaignId).ToArray(),
                lead_rows = changed.Select(l => l.RowNumber).ToArray(),
                lead_statuses = changed.Select(l => l.Status).ToArray(),
                lead_steps = changed.Select(l => l.CurrentStep).ToArray(),
                lead_attempts = changed.Select(l => l.Attempt).ToArray(),
                lead_channels = changed.Select(l => l.Channel).ToArray(),
                lead_earliests = changed.Select(l => l.EarliestAt).ToArray(),
                lead_nexts = changed.Select(l => l.NextActionAt).ToArray(),
                lead_outcomes = changed.Select(l => l.LastOutcome).ToArray(),
            });
        }
        await CampaignProgress.MoveAndCommitAsync(connection, transaction, processed, BounceGuard.Tallies(closed.Select(a => (a.CampaignId, a.Channel, a.Outcome!))),
            now, writes, parameters, ct);
        foreach (var kind in closed.GroupBy(a => (a.Channel, Outcome: a.Outcome!)))
            metrics.Recorded(kind.Key.Channel, kind.Key.Outcome, kind.Count());
        return results;
    }

    private static OneOf<Recorded, Missing, LeaseLost, Invalid> Apply(Report report, Dictionary<Guid, ActionRow> actions,
        Dictionary<(Guid, int), LeadRow> leads, IReadOnlyDictionary<Guid, CampaignPlans.Plan> campaignPlans, Dictionary<Guid, int> processed,
        DateTimeOffset now)
    {
        if (!actions.TryGetValue(report.ActionId, out var action))
            return new Missing("Action", report.ActionId);
        if (action.State is "closed" or "cancelled")
            return action.ClosingToken == report.LeaseToken && action.Outcome is { } closedWith && SameReport(closedWith, report.Outcome)
                ? new Recorded(action.ActionId, (ActionOutcome)Json.FromWire(typeof(ActionOutcome), closedWith), (LeadStatus)Json.FromWire(typeof(LeadStatus), action.AnsweredLeadStatus!), action.AnsweredNextActionAt)
                : new LeaseLost(action.State == "cancelled"
                    ? "The action was closed when its campaign was cancelled."
                    : $"The action is already closed with the outcome {action.Outcome}; an outcome cannot be changed.");
        if (action.State == "released")
            return new LeaseLost("The action was given back (released); lease it again to report on it.");
        if (action.LeaseToken != report.LeaseToken)
            return new LeaseLost("This lease token no longer holds the action: the lease expired and the action was leased again.");
        var channel = (StepChannel)Json.FromWire(typeof(StepChannel), action.Channel);
        if (!OutcomesOf[channel].Contains(report.Outcome))
            return Invalid.At("outcome", $"A {action.Channel} action closes with one of: {string.Join(", ", OutcomesOf[channel].Select(o => o.ToWire()))}.");

        var lead = leads[(action.CampaignId, action.RowNumber)];
        var plan = campaignPlans[action.CampaignId];
        var retries = plan.Campaign.VoiceConfig?.RetryConfig;
        var outcome = channel == StepChannel.Call ? CallRetries.Effective(report.Outcome, report.DurationSeconds, retries) : report.Outcome;
        // Only the lead's current action moves it; a cancelled campaign's late outcome is recorded and leads to nothing further.
        if (lead.OpenActionId == action.ActionId && CampaignStatusRules.LeadsInPlay.Contains((LeadStatus)Json.FromWire(typeof(LeadStatus), lead.Status)))
        {
            lead.OpenActionId = null;
            lead.LastOutcome = outcome.ToWire();
            lead.Changed = true;
            var done = outcome is ActionOutcome.Sent or ActionOutcome.Skipped or ActionOutcome.Completed;
            var retryAfter = channel == StepChannel.Call && !done
                ? CallRetries.NextAttemptAfter(retries, outcome, action.Attempt, outcome switch
                {
                    ActionOutcome.ProviderError => action.EarlierProviderErrors,
                    ActionOutcome.InternalError => action.EarlierInternalErrors,
                    _ => 0,
                })
                : null;
            if (retryAfter is { } delay)
            {
                // The same step again, as the next attempt, after the retry interval moved into the schedule.
                lead.Attempt = action.Attempt + 1;
                lead.EarliestAt = now + delay;
                lead.NextActionAt = LeadTiming.Due(plan.Schedule, lead.EarliestAt.Value, plan.Schedule.LeadZone(lead.Timezone));
                lead.Status = LeadStatus.Active.ToWire();
            }
            else if (done && action.Step < plan.Campaign.Steps.Count)
            {
                var next = plan.Step(action.Step + 1);
                lead.CurrentStep = action.Step + 1;
                lead.Attempt = 1;
                lead.Channel = next.Channel!.Value.ToWire();
                lead.EarliestAt = now.AddMinutes(next.TotalDelayMinutes);
                lead.NextActionAt = LeadTiming.Due(plan.Schedule, lead.EarliestAt.Value, plan.Schedule.LeadZone(lead.Timezone));
                lead.Status = LeadStatus.Active.ToWire();
            }
            else
            {
                lead.Status = (done ? LeadStatus.Completed : LeadStatus.Failed).ToWire();
                lead.NextActionAt = null;
                processed[action.CampaignId] = processed.GetValueOrDefault(action.CampaignId) + 1;
            }
        }
        action.State = "closed";
        action.Outcome = outcome.ToWire();
        action.ClosingToken = report.LeaseToken;
        action.AnsweredLeadStatus = lead.Status;
        action.AnsweredNextActionAt = lead.NextActionAt;
        action.Closing = report;
        return new Recorded(action.ActionId, outcome, (LeadStatus)Json.FromWire(typeof(LeadStatus), lead.Status), lead.NextActionAt);
    }

    /// <summary>Whether a report repeats the one that closed the action: the same outcome, or an answered call that counted as short_duration.</summary>
    private static bool SameReport(string closedWith, ActionOutcome reported) =>
        closedWith == reported.ToWire() || (reported == ActionOutcome.Completed && closedWith == ActionOutcome.ShortDuration.ToWire());

    private const string LockCampaignsSql = """
        select campaign_id, updated_at from campaigns
        where campaign_id in (select campaign_id from actions where action_id = any(@ids))
        order by campaign_id
        for no key update;
        """;

    private const string LockActionsSql = """
        select a.action_id, a.campaign_id, a.row_number, a.step, a.attempt, a.channel, a.state, a.lease_token, a.lease_expires_at, a.closing_token,
               a.outcome, a.answered_lead_status, a.answered_next_action_at,
               case when a.channel = 'call' then (select count(*)::int from actions p where p.campaign_id = a.campaign_id and p.row_number = a.row_number
                   and p.step = a.step and p.attempt < a.attempt and p.outcome = 'provider_error') else 0 end as earlier_provider_errors,
               case when a.channel = 'call' then (select count(*)::int from actions p where p.campaign_id = a.campaign_id and p.row_number = a.row_number
                   and p.step = a.step and p.attempt < a.attempt and p.outcome = 'internal_error') else 0 end as earlier_internal_errors
        from actions a where a.action_id = any(@ids)
        order by a.action_id
        for update of a;
        """;

    private const string LockLeadsSql = """
        select l.campaign_id, l.row_number, l.status, l.current_step, l.attempt, l.channel, l.timezone, l.open_action_id, l.earliest_at, l.next_action_at, l.last_outcome
        from leads l
        where (l.campaign_id, l.row_number) in (select campaign_id, row_number from actions where action_id = any(@ids))
        order by l.campaign_id, l.row_number
        for update of l
        """;

    private const string CloseActionsSql = """
        update actions a
        set state = 'closed', lease_token = null, outcome = x.outcome, detail = x.detail, duration_seconds = x.duration,
            provider_reference = x.reference, occurred_at = coalesce(x.occurred, @now), reported_at = @now, closing_token = x.token,
            answered_lead_status = x.status, answered_next_action_at = x.next
        from unnest(@ids::uuid[], @outcomes::text[], @details::text[], @durations::int[], @references::text[], @occurred::timestamptz[],
                    @tokens::uuid[], @statuses::text[], @nexts::timestamptz[])
             as x (id, outcome, detail, duration, reference, occurred, token, status, next)
        where a.action_id = x.id
        """;

    private const string UpdateLeadsSql = """
        update leads l
        set status = x.status, current_step = x.step, channel = x.channel, earliest_at = x.earliest, next_action_at = x.next,
            open_action_id = null, attempt = x.attempt, last_outcome = x.outcome, updated_at = @now
        from unnest(@lead_campaigns::uuid[], @lead_rows::int[], @lead_statuses::text[], @lead_steps::int[], @lead_attempts::int[], @lead_channels::text[],
                    @lead_earliests::timestamptz[], @lead_nexts::timestamptz[], @lead_outcomes::text[])
             as x (campaign_id, row_number, status, step, attempt, channel, earliest, next, outcome)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    // Call leads of running or paused campaigns whose lease ended unreported (while leased, a lead is due at its lease's end).
    private const string ExpiredCallsSql = """
        select a.action_id
        from leads l
        join actions a on a.action_id = l.open_action_id
        where l.channel = 'call' and l.status = 'active' and l.next_action_at <= @now and a.state = 'leased' and a.lease_expires_at <= @now
        limit 1000
        """;
}
