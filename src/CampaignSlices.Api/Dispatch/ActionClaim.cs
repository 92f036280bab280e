using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;
using NodaTime;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// The claim behind a lease request, in one transaction that never waits: due leads, the campaigns'
/// daily counters (whose lock also holds their senders' pacing rows) and any action being offered again are
/// all locked with SKIP LOCKED, so two replicas claiming at once take different work and neither overspends a limit.
/// What a limit or the schedule holds back is moved to the moment it may go (its next_action_at), so
/// held-back leads leave the head of the queue instead of being scanned again on every claim.
/// <list type="bullet">
/// <item>A new action counts against daily_limit and its sender's account limit on the campaign-local
/// day; an action offered again (its lease expired, or the worker gave it back) does not count again.</item>
/// <item>min_interval_seconds spaces every lease of one sender, offered-again ones included: each is a send.</item>
/// <item>A new email lead takes the free alias holding fewest leads, and keeps it for every later email step.</item>
/// <item>Calls: attempts_per_second in place of min_interval (a sliding window on the campaign's pacing row); a new call
/// lead takes the connection furthest below its share by weight and that connection's phone numbers in turn, and keeps
/// both. An expired call lease is never offered again: it is closed as internal_error (<see cref="OutcomeRecorder"/>).</item>
/// </list>
/// </summary>
public sealed class ActionClaim(NpgsqlDataSource db, CampaignPlans plans, OutcomeRecorder recorder, TimeProvider clock, DispatchMetrics metrics,
    ILogger<ActionClaim> logger)
{
    public sealed record Request(StepChannel Channel, int Max, TimeSpan LeaseFor, string Worker);

    private sealed record Candidate(Guid CampaignId, int RowNumber, int CurrentStep, int Attempt, string? SenderId, string? SenderPhone, string? Timezone,
        Guid? OpenActionId, DateTimeOffset UpdatedAt, string? Email, string? FirstName, string? LastName, string? Company, string? LinkedinUrl,
        string? Phone, string? Attributes, DateTimeOffset NextActionAt);

    private sealed class Pacing
    {
        public DateOnly Day { get; set; }
        public int LeasedOnDay { get; set; }
        public bool Touched { get; set; }

        /// <summary>The campaign's call leases still inside its rate window: when each claim leased, and how many.</summary>
        public List<(DateTimeOffset At, int Calls)> CallWindow { get; set; } = [];

        public int CallsLeased { get; set; }

        /// <summary>
        /// Held calls' windows follow each other 2 % wider than the rate's: a window's calls are leased a little after it
        /// opens, by however late the worker's next poll comes, and windows exactly back to back would find the previous
        /// one's calls still counted now and then.
        /// </summary>
        private const double HeldWindowSpacing = 1.02;

        /// <summary>How soon (a share of the window) the window must free for a held call to wait just for that.</summary>
        private const double AlmostFree = 0.1;

        /// <summary>The latest window given to calls the rate held back, and how many it holds so far (up to the rate's calls).</summary>
        public DateTimeOffset? CallSlotAt { get; set; }

        public int CallSlotCalls { get; set; }

        /// <summary>
        /// Whether one more call fits the window at <paramref name="now"/>; else the lead's slot: a whole window's calls
        /// at a time, the first window from when the current one frees, each later one a window after, across claims. So
        /// held calls come due a window's worth at a time (leased in one claim), at the rate, instead of all at once, and
        /// are not held (and rewritten) claim after claim.
        /// </summary>
        public bool TakeCall(CampaignPlans.CallRate rate, DateTimeOffset now, out DateTimeOffset slot)
        {
            slot = now;
            if (CallWindow.Sum(entry => entry.Calls) + CallsLeased < rate.Calls)
            {
                CallsLeased++;
                Touched = true;
                return true;
            }
            var windowFrees = CallWindow.Count > 0 ? CallWindow.Min(entry => entry.At) + rate.Window : now + rate.Window;
            // Calls that came due a moment before the previous window's calls left the window (those were leased late) wait
            // for that moment only, rather than behind every window already given out.
            if (windowFrees - now <= rate.Window * AlmostFree)
            {
                slot = windowFrees;
                Touched = true;
                return false;
            }
            if (CallSlotAt is not { } latest || latest < windowFrees)
                (CallSlotAt, CallSlotCalls) = (windowFrees, 0);
            else if (CallSlotCalls >= rate.Calls)
                (CallSlotAt, CallSlotCalls) = (latest + rate.Window * HeldWindowSpacing, 0);
            CallSlotCalls++;
            slot = CallSlotAt!.Value;
            Touched = true;
            return false;
        }
    }

    private sealed class SenderPacing
    {
        public required string SenderId { get; init; }
        public DateOnly? Day { get; set; }
        public int LeasedOnDay { get; set; }
        public DateTimeOffset? LastLeasedAt { get; set; }
        public int Leads { get; set; }
        public bool Touched { get; set; }

        /// <summary>Whether the row exists: read under the claim's lock, not added by the claim for a new call connection.</summary>
        public bool Stored { get; init; }

        /// <summary>The latest slot this sender gave to a lead it held back (see <see cref="HeldSlot"/>).</summary>
        public DateTimeOffset? HeldUntil { get; set; }
    }

    private sealed record OpenAction(Guid ActionId, string State, DateTimeOffset? LeaseExpiresAt, int Step, int Attempt, string? Variant, string SenderId,
        string? SenderPhone);

    /// <summary>A new action; <paramref name="NewSender"/> when the lead takes (or, for a call whose connection was removed, changes) its sender.</summary>
    private sealed record NewAction(Guid ActionId, Candidate Lead, int Step, int Attempt, string? Variant, string SenderId, string? SenderPhone, Guid Token,
        bool NewSender);

    /// <summary>Leases up to <c>Max</c> due actions; also answers when the next not-yet-due one is, for a long poll to wait for.</summary>
    public async Task<(List<LeaseActions.Lease> Leases, DateTimeOffset? NextDue)> ClaimAsync(Request request, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var instant = Instant.FromDateTimeOffset(now);
        var channel = request.Channel.ToWire();
        using var activity = Telemetry.Source.StartActivity("dispatch.claim")?.SetTag("dispatch.channel", channel);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var candidates = (await connection.QueryAsync<Candidate>(new CommandDefinition(CandidatesSql, new
        {
            channel, now, scan = request.Max + request.Max / 4 + 1, dispatching = Wire(CampaignStatusRules.Dispatching),
        }, transaction, cancellationToken: ct))).ToList();
        if (candidates.Count == 0)
        {
            await transaction.CommitAsync(ct);
            return ([], await NextDueAsync(connection, channel, ct));
        }

        var campaignIds = candidates.Select(c => c.CampaignId).Distinct().ToArray();
        var (campaignPlans, missingPlans) = plans.Find(candidates.GroupBy(c => c.CampaignId).ToDictionary(g => g.Key, g => g.First().UpdatedAt));
        // The plans not known yet, the counters, the senders of the campaigns whose counter this claim holds, and any action
        // offered again, read and locked in one round trip.
        var openIds = candidates.Where(c => c.OpenActionId is not null).Select(c => c.OpenActionId!.Value).ToArray();
        Dictionary<Guid, Pacing> pacing;
        Dictionary<Guid, Dictionary<string, SenderPacing>> senders;
        var openActions = new Dictionary<Guid, OpenAction>();
        await using (var locked = await connection.ExecuteReaderAsync(new CommandDefinition(
            DispatchPlans.Generic + (missingPlans.Length == 0 ? "" : CampaignPlans.ReadMissingSql) + LockPacingSql + LockSendersSql +
            (openIds.Length == 0 ? "" : LockOpenActionsSql),
            new { ids = campaignIds, channel, openIds, missing = missingPlans }, transaction, cancellationToken: ct)))
        {
            if (missingPlans.Length > 0)
            {
                await plans.AddAsync(locked, campaignPlans, ct);
                await locked.NextResultAsync(ct);
            }
            pacing = (await locked.ReadRowsAsync<(Guid CampaignId, DateOnly Day, int LeasedOnDay, DateTime[] CallLeasedAt, int[] CallLeased,
                    DateTimeOffset? CallSlotAt, int CallSlotCalls)>(ct))
                .ToDictionary(p => p.CampaignId, p => new Pacing
                {
                    Day = p.Day, LeasedOnDay = p.LeasedOnDay,
                    CallWindow = [.. p.CallLeasedAt.Zip(p.CallLeased, (at, calls) => (new DateTimeOffset(at, TimeSpan.Zero), calls))],
                    CallSlotAt = p.CallSlotAt,
                    CallSlotCalls = p.CallSlotCalls,
                });
            senders = (await locked.ReadRowsAsync<(Guid CampaignId, string SenderId, DateOnly? Day, int LeasedOnDay, DateTimeOffset? LastLeasedAt, int Leads,
                    DateTimeOffset? HeldUntil)>(ct))
                .GroupBy(s => s.CampaignId)
                .ToDictionary(g => g.Key, g => g.ToDictionary(s => s.SenderId,
                    s => new SenderPacing
                    {
                        SenderId = s.SenderId, Day = s.Day, LeasedOnDay = s.LeasedOnDay, LastLeasedAt = s.LastLeasedAt, Leads = s.Leads, Stored = true,
                        HeldUntil = s.HeldUntil,
                    },
                    StringComparer.Ordinal));
            if (openIds.Length > 0)
                openActions = (await locked.ReadRowsAsync<OpenAction>(ct)).ToDictionary(a => a.ActionId);
        }

        // The limits are judged, and the leases dated, from when the counters are held: claims of one campaign hold them one
        // after another, so their times keep that order, and no claim judges a rate window or min_interval on a stale now.
        now = clock.GetUtcNow();
        instant = Instant.FromDateTimeOffset(now);
        var expires = now + request.LeaseFor;
        var created = new List<NewAction>();
        var offeredAgain = new List<(OpenAction Action, Candidate Lead, Guid Token)>();
        var deferred = new List<(Candidate Lead, DateTimeOffset? Until)>();
        var expiredCalls = new List<Guid>();
        foreach (var (campaignId, counter) in pacing)
            if (campaignPlans.TryGetValue(campaignId, out var voice) && voice.Calls is { } rate)
                counter.CallWindow.RemoveAll(entry => entry.At <= now - rate.Window);
        foreach (var lead in candidates)
        {
            if (created.Count + offeredAgain.Count >= request.Max)
                break;
            // Held by another claim or missing: leave the lead as it is for that claim, or the next.
            if (!campaignPlans.TryGetValue(lead.CampaignId, out var plan) || !pacing.TryGetValue(lead.CampaignId, out var counter))
                continue;
            var allowed = plan.Schedule.NextAllowed(instant, plan.Schedule.LeadZone(lead.Timezone));
            if (allowed != instant)
            {
                deferred.Add((lead, allowed?.ToDateTimeOffset()));
                continue;
            }
            // A call connection added while the campaign was paused has no row yet: the claim adds it here.
            if (!senders.TryGetValue(lead.CampaignId, out var campaignSenders))
                senders[lead.CampaignId] = campaignSenders = [];
            if (lead.OpenActionId is { } openId)
            {
                if (!openActions.TryGetValue(openId, out var open) || open.State is not ("leased" or "released"))
                    continue;
                if (open.State == "leased" && open.LeaseExpiresAt > now)
                {
                    deferred.Add((lead, open.LeaseExpiresAt)); // a heartbeat extended the lease
                    continue;
                }
                if (request.Channel == StepChannel.Call)
                {
                    // A call whose lease ended may have been dialled: never again blindly. A given-back one was not, and goes again.
                    if (open.State == "leased")
                        expiredCalls.Add(open.ActionId);
                    else if (counter.TakeCall(plan.Calls!, now, out var callFreeAt))
                        offeredAgain.Add((open, lead, Guid.NewGuid()));
                    else
                        deferred.Add((lead, callFreeAt));
                    continue;
                }
                if (!campaignSenders.TryGetValue(open.SenderId, out var kept))
                    continue;
                if (kept.LastLeasedAt + plan.MinInterval > now)
                {
                    deferred.Add((lead, kept.LastLeasedAt + plan.MinInterval));
                    continue;
                }
                kept.LastLeasedAt = now;
                kept.Touched = true;
                offeredAgain.Add((open, lead, Guid.NewGuid()));
                continue;
            }

            var today = plan.Today(instant).ToDateOnly();
            if (counter.Day != today)
                (counter.Day, counter.LeasedOnDay) = (today, 0);
            if (counter.LeasedOnDay >= plan.Campaign.DailyLimit)
            {
                deferred.Add((lead, plan.NextDayStart(instant).ToDateTimeOffset()));
                continue;
            }
            var step = plan.Step(lead.CurrentStep);
            if (step.Channel == StepChannel.Call)
            {
                if (!counter.TakeCall(plan.Calls!, now, out var callFreeAt))
                {
                    deferred.Add((lead, callFreeAt));
                    continue;
                }
                var (connectionId, phone, changed) = CallSender(plan, lead, campaignSenders);
                counter.LeasedOnDay++;
                created.Add(new NewAction(Guid.CreateVersion7(now), lead, lead.CurrentStep, lead.Attempt, DrawVariant(step), connectionId, phone, Guid.NewGuid(), changed));
                continue;
            }
            var senderIds = SendersOf(plan, step, lead);
            var pool = senderIds.Select(id => campaignSenders.GetValueOrDefault(id)).ToList();
            if (pool.Count == 0)
                continue;
            var free = pool.Where(s => s is not null && Available(s, plan, today, now)).ToList();
            if (free.Count == 0)
            {
                // Every sender it may use is known here and busy: wait for a slot of theirs. Some held by another claim: leave it.
                if (pool.All(s => s is not null))
                    deferred.Add((lead, HeldSlot(pool!, plan, today, instant, now)));
                continue;
            }
            var sender = free.MinBy(s => s!.Leads)!;
            if (sender.Day != today)
                (sender.Day, sender.LeasedOnDay) = (today, 0);
            sender.LeasedOnDay++;
            sender.LastLeasedAt = now;
            var newSender = step.Channel == StepChannel.Email && lead.SenderId is null;
            if (newSender)
                sender.Leads++;
            sender.Touched = true;
            counter.LeasedOnDay++;
            counter.Touched = true;
            created.Add(new NewAction(Guid.CreateVersion7(now), lead, lead.CurrentStep, lead.Attempt, DrawVariant(step), sender.SenderId, null, Guid.NewGuid(),
                newSender));
        }

        await WriteAndCommitAsync(connection, transaction, request, now, expires, created, offeredAgain, deferred, pacing, senders, ct);
        if (expiredCalls.Count > 0)
            await recorder.ExpireCallLeasesAsync(expiredCalls, ct);
        metrics.Leased(channel, now, [.. created.Select(a => a.Lead.NextActionAt), .. offeredAgain.Select(o => o.Lead.NextActionAt)],
            offeredAgain.Count(o => o.Action.State == "leased"));
        activity?.SetTag("dispatch.leased", created.Count + offeredAgain.Count);
        if (deferred.Count > 0)
            logger.LogDebug("Claim of {Channel} held back {Deferred} due leads for their schedule or limits", channel, deferred.Count);

        var leases = created.Select(a => ToLease(a.ActionId, a.Token, expires, a.Lead, a.Step, a.Attempt, a.Variant, a.SenderId, a.SenderPhone,
                campaignPlans[a.Lead.CampaignId]))
            .Concat(offeredAgain.Select(o => ToLease(o.Action.ActionId, o.Token, expires, o.Lead, o.Action.Step, o.Action.Attempt, o.Action.Variant,
                o.Action.SenderId, o.Action.SenderPhone, campaignPlans[o.Lead.CampaignId])))
            .ToList();
        return (leases, leases.Count > 0 ? now : await NextDueAsync(connection, channel, ct));
    }

    /// <summary>Email: the lead's kept alias, or any alias for its first email; LinkedIn: the campaign's account.</summary>
    private static IEnumerable<string> SendersOf(CampaignPlans.Plan plan, CampaignStep step, Candidate lead) => step.Channel switch
    {
        StepChannel.Email => lead.SenderId is { } kept ? [kept] : plan.Campaign.AliasIds ?? [],
        StepChannel.Linkedin => plan.Campaign.ConnectedAccountId is { } account ? [account.ToString()] : [],
        _ => [],
    };

    /// <summary>
    /// A call lead's connection and phone number: the kept ones while the voice config still has them; else the connection
    /// furthest below its share of leads by weight (first in the config on a tie), and that connection's numbers in turn.
    /// </summary>
    private static (string Connection, string Phone, bool Changed) CallSender(CampaignPlans.Plan plan, Candidate lead, Dictionary<string, SenderPacing> known)
    {
        var connections = plan.Campaign.VoiceConfig!.ConnectionConfigs!;
        var kept = connections.FirstOrDefault(c => c.ConnectionId == lead.SenderId);
        if (kept is not null && lead.SenderPhone is { } keptPhone && kept.PhoneNumbers!.Contains(keptPhone))
            return (kept.ConnectionId!, keptPhone, false);
        var chosen = kept ?? connections.MinBy(c => (Leads(c) + 1.0) / c.Weight!.Value)!;
        var sender = known.TryGetValue(chosen.ConnectionId!, out var row) ? row : known[chosen.ConnectionId!] = new SenderPacing { SenderId = chosen.ConnectionId! };
        var phone = chosen.PhoneNumbers![sender.Leads % chosen.PhoneNumbers.Count];
        sender.Leads++;
        sender.Touched = true;
        return (chosen.ConnectionId!, phone, true);

        int Leads(ConnectionConfig connection) => known.TryGetValue(connection.ConnectionId!, out var pacing) ? pacing.Leads : 0;
    }

    private static bool Available(SenderPacing sender, CampaignPlans.Plan plan, DateOnly today, DateTimeOffset now) =>
        plan.SenderFree(sender.SenderId, sender.LastLeasedAt, sender.Day, sender.LeasedOnDay, today, now);

    private static DateTimeOffset FreeAt(SenderPacing sender, CampaignPlans.Plan plan, DateOnly today, Instant now)
    {
        var paced = sender.LastLeasedAt + plan.MinInterval ?? now.ToDateTimeOffset();
        return plan.AtAccountLimit(sender.SenderId, sender.Day, sender.LeasedOnDay, today) ? Later(paced, plan.NextDayStart(now).ToDateTimeOffset()) : paced;
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>
    /// Held leads' slots of one sender follow each other 2 % wider than min_interval: a slot's lead is leased a little
    /// after its slot, by however late the worker's next poll comes, and slots exactly one interval apart would find
    /// the sender still paced now and then.
    /// </summary>
    private const double HeldSlotSpacing = 1.02;

    /// <summary>How soon (a share of min_interval) a sender must free for a held lead to wait just for that.</summary>
    private const double AlmostFree = 0.1;

    /// <summary>
    /// When a lead that every sender it may use holds back is due again. A sender that frees within a tenth of
    /// min_interval: then. Else the sender whose next slot comes first gives it that slot: the sender's free moment, or
    /// one spacing after the last slot it gave, whichever is later. So held leads come due one by one as their senders
    /// free, each written once, instead of all at the next free moment and again at every one after it.
    /// </summary>
    private static DateTimeOffset HeldSlot(IReadOnlyList<SenderPacing> pool, CampaignPlans.Plan plan, DateOnly today, Instant now, DateTimeOffset at)
    {
        var options = pool.Select(sender => (Sender: sender, Free: FreeAt(sender, plan, today, now))).ToList();
        var soonest = options.Min(option => option.Free);
        if (plan.MinInterval <= TimeSpan.Zero || soonest - at <= plan.MinInterval * AlmostFree)
            return soonest;
        var (chosen, slot) = options
            .Select(option => (option.Sender, Slot: option.Sender.HeldUntil is { } last ? Later(option.Free, last + plan.MinInterval * HeldSlotSpacing) : option.Free))
            .MinBy(option => option.Slot);
        chosen.HeldUntil = slot;
        chosen.Touched = true;
        return slot;
    }

    /// <summary>A variant by the weights (they sum to 100); none when the step has no variants.</summary>
    private static string? DrawVariant(CampaignStep step)
    {
        if (step.Variants.Count == 0)
            return null;
        var draw = Random.Shared.Next(step.Variants.Sum(v => v.Weight!.Value));
        foreach (var variant in step.Variants)
        {
            draw -= variant.Weight!.Value;
            if (draw < 0)
                return variant.Label;
        }
        return step.Variants[^1].Label;
    }

    private static LeaseActions.Lease ToLease(Guid actionId, Guid token, DateTimeOffset expires, Candidate lead, int stepNumber, int attempt,
        string? variantLabel, string senderId, string? senderPhone, CampaignPlans.Plan plan)
    {
        var campaign = plan.Campaign;
        var step = plan.Step(stepNumber);
        var variant = variantLabel is null ? null : step.Variants.FirstOrDefault(v => v.Label == variantLabel);
        var voice = campaign.VoiceConfig;
        var attributes = lead.Attributes is null ? [] : JsonNode.Parse(lead.Attributes)!.AsObject();
        return new LeaseActions.Lease(actionId, token, expires, campaign.CampaignId, campaign.UserId, lead.RowNumber, stepNumber, attempt,
            step.Channel!.Value, step.ActionType, step.MessageTemplate,
            variant is null ? null : new LeaseActions.LeasedVariant(variant.Label!, variant.Type!.Value, variant.TemplateId, variant.SenderProfileId),
            step.Channel switch
            {
                StepChannel.Email => new LeaseActions.LeasedSender { AliasId = senderId },
                StepChannel.Call => new LeaseActions.LeasedSender { ConnectionId = senderId, PhoneNumber = senderPhone },
                _ => new LeaseActions.LeasedSender { ConnectedAccountId = senderId },
            },
            new LeaseActions.LeadRow(lead.Email, lead.FirstName, lead.LastName, lead.Company, lead.LinkedinUrl, lead.Phone, lead.Timezone, attributes),
            new LeaseActions.LeaseSettings(step.AiPersonalizationEnabled, step.TrackClicks, campaign.OpenTracking ?? false, campaign.Signature,
                campaign.SystemPrompt, voice?.AppId, voice?.AppVersion, voice?.AppType.ToWire(), campaign.WebhookConfig));
    }

    /// <summary>Every write of the claim and the commit as one batch of statements: one round trip, whichever of them it needs.</summary>
    private static async Task WriteAndCommitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Request request, DateTimeOffset now,
        DateTimeOffset expires, List<NewAction> created, List<(OpenAction Action, Candidate Lead, Guid Token)> offeredAgain,
        List<(Candidate Lead, DateTimeOffset? Until)> deferred, Dictionary<Guid, Pacing> pacing,
        Dictionary<Guid, Dictionary<string, SenderPacing>> senders, CancellationToken ct)
    {
        var statements = new List<string>();
        var parameters = new DynamicParameters(new { channel = request.Channel.ToWire(), expires, worker = request.Worker, now, active = LeadStatus.Active.ToWire() });
        if (created.Count > 0)
        {
            statements.Add(InsertActionsSql);
            parameters.AddDynamicParams(new
            {
                ids = created.Select(a => a.ActionId).ToArray(),
                campaigns = created.Select(a => a.Lead.CampaignId).ToArray(),
                rows = created.Select(a => a.Lead.RowNumber).ToArray(),
                steps = created.Select(a => a.Step).ToArray(),
                attempts = created.Select(a => a.Attempt).ToArray(),
                variants = created.Select(a => a.Variant).ToArray(),
                senders = created.Select(a => a.SenderId).ToArray(),
                phones = created.Select(a => a.SenderPhone).ToArray(),
                tokens = created.Select(a => a.Token).ToArray(),
            });
        }
        if (offeredAgain.Count > 0)
        {
            statements.Add(OfferAgainSql);
            parameters.AddDynamicParams(new
            {
                again_ids = offeredAgain.Select(o => o.Action.ActionId).ToArray(),
                again_tokens = offeredAgain.Select(o => o.Token).ToArray(),
            });
        }
        var leased = created.Select(a => (a.Lead, a.ActionId, Sender: a.NewSender ? a.SenderId : null, Phone: a.NewSender ? a.SenderPhone : null))
            .Concat(offeredAgain.Select(o => (o.Lead, o.Action.ActionId, Sender: (string?)null, Phone: (string?)null))).ToList();
        if (leased.Count > 0)
        {
            statements.Add(LeasedLeadsSql);
            parameters.AddDynamicParams(new
            {
                leased_campaigns = leased.Select(l => l.Lead.CampaignId).ToArray(),
                leased_rows = leased.Select(l => l.Lead.RowNumber).ToArray(),
                leased_actions = leased.Select(l => l.ActionId).ToArray(),
                leased_senders = leased.Select(l => l.Sender).ToArray(),
                leased_phones = leased.Select(l => l.Phone).ToArray(),
            });
        }
        if (deferred.Count > 0)
        {
            statements.Add(DeferSql);
            parameters.AddDynamicParams(new
            {
                deferred_campaigns = deferred.Select(d => d.Lead.CampaignId).ToArray(),
                deferred_rows = deferred.Select(d => d.Lead.RowNumber).ToArray(),
                deferred_dues = deferred.Select(d => d.Until).ToArray(),
            });
        }
        var touchedSenders = senders.SelectMany(c => c.Value.Values.Where(s => s.Touched).Select(s => (CampaignId: c.Key, Sender: s))).ToList();
        // Rows the claim read are updated in place; an upsert would lock and write each of them twice.
        foreach (var (stored, sql, prefix) in new[] { (true, UpdateSendersSql, "sender"), (false, InsertSendersSql, "new_sender") })
        {
            var rows = touchedSenders.Where(s => s.Sender.Stored == stored).ToList();
            if (rows.Count == 0)
                continue;
            statements.Add(sql);
            parameters.Add($"{prefix}_campaigns", rows.Select(s => s.CampaignId).ToArray());
            parameters.Add($"{prefix}_ids", rows.Select(s => s.Sender.SenderId).ToArray());
            parameters.Add($"{prefix}_days", rows.Select(s => s.Sender.Day).ToArray());
            parameters.Add($"{prefix}_counts", rows.Select(s => s.Sender.LeasedOnDay).ToArray());
            parameters.Add($"{prefix}_lasts", rows.Select(s => s.Sender.LastLeasedAt).ToArray());
            parameters.Add($"{prefix}_leads", rows.Select(s => s.Sender.Leads).ToArray());
            parameters.Add($"{prefix}_helds", rows.Select(s => s.Sender.HeldUntil).ToArray());
        }
        var touchedPacing = pacing.Where(p => p.Value.Touched).ToList();
        if (touchedPacing.Count > 0)
        {
            statements.Add(PacingSql);
            parameters.AddDynamicParams(new
            {
                pacing_campaigns = touchedPacing.Select(p => p.Key).ToArray(),
                pacing_days = touchedPacing.Select(p => p.Value.Day).ToArray(),
                pacing_counts = touchedPacing.Select(p => p.Value.LeasedOnDay).ToArray(),
                // The claim's calls join the window as one entry; NULL keeps a campaign's window as it was.
                pacing_call_ats = touchedPacing.Select(p => p.Value.CallsLeased > 0
                    ? string.Join(',', p.Value.CallWindow.Select(e => e.At).Append(now).Select(at => at.UtcDateTime.ToString("O"))) : null).ToArray(),
                pacing_call_counts = touchedPacing.Select(p => p.Value.CallsLeased > 0
                    ? string.Join(',', p.Value.CallWindow.Select(e => e.Calls).Append(p.Value.CallsLeased)) : null).ToArray(),
                pacing_call_slots = touchedPacing.Select(p => p.Value.CallSlotAt).ToArray(),
                pacing_call_slot_calls = touchedPacing.Select(p => p.Value.CallSlotCalls).ToArray(),
            });
        }
        statements.Add(DispatchPlans.Commit);
        await connection.ExecuteAsync(new CommandDefinition(string.Join(";\n", statements), parameters, transaction, cancellationToken: ct));
    }

    private async Task<DateTimeOffset?> NextDueAsync(NpgsqlConnection connection, string channel, CancellationToken ct) =>
        await connection.QuerySingleOrDefaultAsync<DateTimeOffset?>(new CommandDefinition(NextDueSql,
            new { channel, dispatching = Wire(CampaignStatusRules.Dispatching), now = clock.GetUtcNow() }, cancellationToken: ct));

    private static string[] Wire(IEnumerable<CampaignStatus> statuses) => [.. statuses.Select(status => status.ToWire())];

    // Pending leads of a campaign past its end_date never start (the sweep stops them); leads in the sequence finish it.
    private const string CandidatesSql = """
        select l.campaign_id, l.row_number, l.current_step, l.attempt, l.sender_id, l.sender_phone, l.timezone, l.open_action_id, c.updated_at,
               l.email, r.first_name, r.last_name, r.company, l.linkedin_url, l.phone, r.attributes::text as attributes,
               l.next_action_at
        from leads l
        join campaigns c on c.campaign_id = l.campaign_id
        join dataset_rows r on r.dataset_id = c.dataset_id and r.row_number = l.row_number
        where l.channel = @channel and l.status in ('pending', 'active') and l.next_action_at <= @now
          and c.status = any(@dispatching)
          and (l.status <> 'pending' or c.end_date is null or c.end_date > @now)
        order by l.next_action_at
        limit @scan
        for update of l skip locked
        """;

    private const string LockPacingSql = """
        select campaign_id, day, leased_on_day, call_leased_at, call_leased, call_slot_at, call_slot_calls from campaign_pacing where campaign_id = any(@ids) for update skip locked;
        """;

    // Only the senders of campaigns whose pacing row this claim holds (the statement before locked them; locking them
    // again here finds the same rows). The pacing row's lock is the senders' too: every writer of a campaign's sender rows
    // (a claim, a schedule PATCH forgetting held slots) holds it first, so they are read without a lock of their own,
    // which spared locking every sender of the campaigns in play (about 150 rows a claim) to update the ones it uses.
    private const string LockSendersSql = """
        select campaign_id, sender_id, day, leased_on_day, last_leased_at, leads, held_until
        from campaign_senders
        where channel = @channel
          and campaign_id in (select campaign_id from campaign_pacing where campaign_id = any(@ids) for update skip locked);
        """;

    private const string LockOpenActionsSql = """
        select action_id, state, lease_expires_at, step, attempt, variant, sender_id, sender_phone
        from actions where action_id = any(@openIds)
        for update skip locked;
        """;

    private const string InsertActionsSql = """
        insert into actions (action_id, campaign_id, row_number, step, attempt, channel, variant, sender_id, sender_phone, state, lease_token,
                             lease_expires_at, worker, leased_at)
        select a.id, a.campaign_id, a.row_number, a.step, a.attempt, @channel, a.variant, a.sender_id, a.phone, 'leased', a.token, @expires, @worker, @now
        from unnest(@ids::uuid[], @campaigns::uuid[], @rows::int[], @steps::int[], @attempts::int[], @variants::text[], @senders::text[], @phones::text[],
                    @tokens::uuid[])
             as a (id, campaign_id, row_number, step, attempt, variant, sender_id, phone, token)
        """;

    private const string OfferAgainSql = """
        update actions a
        set state = 'leased', lease_token = o.token, lease_expires_at = @expires, worker = @worker, times_leased = a.times_leased + 1
        from unnest(@again_ids::uuid[], @again_tokens::uuid[]) as o (id, token)
        where a.action_id = o.id
        """;

    // While leased, next_action_at is the lease's end: when the action is offered again unless reported or extended.
    private const string LeasedLeadsSql = """
        update leads l
        set status = @active, next_action_at = @expires, open_action_id = x.action_id, sender_id = coalesce(x.sender_id, l.sender_id),
            sender_phone = coalesce(x.sender_phone, l.sender_phone), updated_at = @now
        from unnest(@leased_campaigns::uuid[], @leased_rows::int[], @leased_actions::uuid[], @leased_senders::text[], @leased_phones::text[])
             as x (campaign_id, row_number, action_id, sender_id, sender_phone)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    private const string DeferSql = """
        update leads l
        set next_action_at = x.due
        from unnest(@deferred_campaigns::uuid[], @deferred_rows::int[], @deferred_dues::timestamptz[]) as x (campaign_id, row_number, due)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    private const string UpdateSendersSql = """
        update campaign_senders s
        set day = x.day, leased_on_day = x.count, last_leased_at = x.last, leads = x.leads, held_until = x.held
        from unnest(@sender_campaigns::uuid[], @sender_ids::text[], @sender_days::date[], @sender_counts::int[], @sender_lasts::timestamptz[],
                    @sender_leads::int[], @sender_helds::timestamptz[])
             as x (campaign_id, sender_id, day, count, last, leads, held)
        where s.campaign_id = x.campaign_id and s.sender_id = x.sender_id
        """;

    // A call connection that a voice config change added while the campaign was paused; the pacing row the claim holds
    // keeps two claims from adding it at once (a connection_id spelled like one of the campaign's other senders keeps that row).
    private const string InsertSendersSql = """
        insert into campaign_senders (campaign_id, sender_id, channel, day, leased_on_day, last_leased_at, leads, held_until)
        select x.campaign_id, x.sender_id, @channel, x.day, x.count, x.last, x.leads, x.held
        from unnest(@new_sender_campaigns::uuid[], @new_sender_ids::text[], @new_sender_days::date[], @new_sender_counts::int[],
                    @new_sender_lasts::timestamptz[], @new_sender_leads::int[], @new_sender_helds::timestamptz[])
             as x (campaign_id, sender_id, day, count, last, leads, held)
        on conflict (campaign_id, sender_id) do nothing
        """;

    private const string PacingSql = """
        update campaign_pacing p
        set day = x.day, leased_on_day = x.count,
            call_leased_at = coalesce(string_to_array(x.call_ats, ',')::timestamptz[], p.call_leased_at),
            call_leased = coalesce(string_to_array(x.call_counts, ',')::int[], p.call_leased),
            call_slot_at = x.call_slot, call_slot_calls = x.call_slot_calls
        from unnest(@pacing_campaigns::uuid[], @pacing_days::date[], @pacing_counts::int[], @pacing_call_ats::text[], @pacing_call_counts::text[],
                    @pacing_call_slots::timestamptz[], @pacing_call_slot_calls::int[])
             as x (campaign_id, day, count, call_ats, call_counts, call_slot, call_slot_calls)
        where p.campaign_id = x.campaign_id
        """;

    private const string NextDueSql = """
        select l.next_action_at
        from leads l join campaigns c on c.campaign_id = l.campaign_id
        where l.channel = @channel and l.status in ('pending', 'active') and l.next_action_at is not null and c.status = any(@dispatching)
          and (l.status <> 'pending' or c.end_date is null or c.end_date > @now)
        order by l.next_action_at
        limit 1
        """;
}
