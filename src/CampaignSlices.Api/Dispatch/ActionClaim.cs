using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;
using NodaTime;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// The claim behind a lease request, in one transaction that never waits: due leads, the campaigns'
/// daily counters, their senders' pacing rows and any action being offered again are all locked with
/// SKIP LOCKED, so two replicas claiming at once take different work and neither overspends a limit.
/// What a limit or the schedule holds back is moved to the moment it may go (its next_action_at), so
/// held-back leads leave the head of the queue instead of being scanned again on every claim.
/// <list type="bullet">
/// <item>A new action counts against daily_limit and its sender's account limit on the campaign-local
/// day; an action offered again (its lease expired, or the worker gave it back) does not count again.</item>
/// <item>min_interval_seconds spaces every lease of one sender, offered-again ones included: each is a send.</item>
/// <item>A new email lead takes the free alias holding fewest leads, and keeps it for every later email step.</item>
/// </list>
/// </summary>
public sealed class ActionClaim(NpgsqlDataSource db, CampaignPlans plans, TimeProvider clock, DispatchMetrics metrics, ILogger<ActionClaim> logger)
{
    public sealed record Request(StepChannel Channel, int Max, TimeSpan LeaseFor, string Worker);

    private sealed record Candidate(Guid CampaignId, int RowNumber, int CurrentStep, int Attempt, string? SenderId, string? Timezone,
        Guid? OpenActionId, DateTimeOffset UpdatedAt, string? Email, string? FirstName, string? LastName, string? Company, string? LinkedinUrl,
        string? Phone, string? Attributes, DateTimeOffset NextActionAt);

    private sealed class Pacing
    {
        public DateOnly Day { get; set; }
        public int LeasedOnDay { get; set; }
        public bool Touched { get; set; }
    }

    private sealed class SenderPacing
    {
        public required string SenderId { get; init; }
        public DateOnly? Day { get; set; }
        public int LeasedOnDay { get; set; }
        public DateTimeOffset? LastLeasedAt { get; set; }
        public int Leads { get; set; }
        public bool Touched { get; set; }
    }

    private sealed record OpenAction(Guid ActionId, string State, DateTimeOffset? LeaseExpiresAt, int Step, int Attempt, string? Variant, string SenderId);

    private sealed record NewAction(Guid ActionId, Candidate Lead, int Step, int Attempt, string? Variant, string SenderId, Guid Token, bool NewSender);

    /// <summary>Leases up to <c>Max</c> due actions; also answers when the next not-yet-due one is, for a long poll to wait for.</summary>
    public async Task<(List<LeaseActions.Lease> Leases, DateTimeOffset? NextDue)> ClaimAsync(Request request, CancellationToken ct)
    {
        // Call actions wait for the voice dispatcher (attempts_per_second, connections by weight): none is leased yet.
        if (request.Channel == StepChannel.Call)
            return ([], null);
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
        var campaignPlans = await plans.GetAsync(connection, transaction,
            candidates.GroupBy(c => c.CampaignId).ToDictionary(g => g.Key, g => g.First().UpdatedAt), ct);
        // The counters, the senders of the campaigns whose counter this claim holds, and any action offered again, locked in one round trip.
        var openIds = candidates.Where(c => c.OpenActionId is not null).Select(c => c.OpenActionId!.Value).ToArray();
        Dictionary<Guid, Pacing> pacing;
        Dictionary<Guid, Dictionary<string, SenderPacing>> senders;
        var openActions = new Dictionary<Guid, OpenAction>();
        await using (var locked = await connection.QueryMultipleAsync(new CommandDefinition(
            openIds.Length == 0 ? LockPacingSql + LockSendersSql : LockPacingSql + LockSendersSql + LockOpenActionsSql,
            new { ids = campaignIds, channel, openIds }, transaction, cancellationToken: ct)))
        {
            pacing = (await locked.ReadAsync<(Guid CampaignId, DateOnly Day, int LeasedOnDay)>())
                .ToDictionary(p => p.CampaignId, p => new Pacing { Day = p.Day, LeasedOnDay = p.LeasedOnDay });
            senders = (await locked.ReadAsync<(Guid CampaignId, string SenderId, DateOnly? Day, int LeasedOnDay, DateTimeOffset? LastLeasedAt, int Leads)>())
                .GroupBy(s => s.CampaignId)
                .ToDictionary(g => g.Key, g => g.ToDictionary(s => s.SenderId,
                    s => new SenderPacing { SenderId = s.SenderId, Day = s.Day, LeasedOnDay = s.LeasedOnDay, LastLeasedAt = s.LastLeasedAt, Leads = s.Leads },
                    StringComparer.Ordinal));
            if (openIds.Length > 0)
                openActions = (await locked.ReadAsync<OpenAction>()).ToDictionary(a => a.ActionId);
        }

        var expires = now + request.LeaseFor;
        var created = new List<NewAction>();
        var offeredAgain = new List<(OpenAction Action, Candidate Lead, Guid Token)>();
        var deferred = new List<(Candidate Lead, DateTimeOffset? Until)>();
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
            var campaignSenders = senders.GetValueOrDefault(lead.CampaignId) ?? [];
            if (lead.OpenActionId is { } openId)
            {
                if (!openActions.TryGetValue(openId, out var open) || open.State is not ("leased" or "released"))
                    continue;
                if (open.State == "leased" && open.LeaseExpiresAt > now)
                {
                    deferred.Add((lead, open.LeaseExpiresAt)); // a heartbeat extended the lease
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
            var senderIds = SendersOf(plan, step, lead);
            var pool = senderIds.Select(id => campaignSenders.GetValueOrDefault(id)).ToList();
            if (pool.Count == 0)
                continue;
            var free = pool.Where(s => s is not null && Available(s, plan, today, now)).ToList();
            if (free.Count == 0)
            {
                // Every sender it may use is known here and busy: wait for the first to be free. Some held by another claim: leave it.
                if (pool.All(s => s is not null))
                    deferred.Add((lead, pool.Min(s => FreeAt(s!, plan, today, instant))));
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
            created.Add(new NewAction(Guid.CreateVersion7(now), lead, lead.CurrentStep, lead.Attempt, DrawVariant(step), sender.SenderId, Guid.NewGuid(), newSender));
        }

        await WriteAsync(connection, transaction, request, now, expires, created, offeredAgain, deferred, pacing, senders, ct);
        await transaction.CommitAsync(ct);
        metrics.Leased(channel, now, [.. created.Select(a => a.Lead.NextActionAt), .. offeredAgain.Select(o => o.Lead.NextActionAt)],
            offeredAgain.Count(o => o.Action.State == "leased"));
        activity?.SetTag("dispatch.leased", created.Count + offeredAgain.Count);
        if (deferred.Count > 0)
            logger.LogDebug("Claim of {Channel} held back {Deferred} due leads for their schedule or limits", channel, deferred.Count);

        var leases = created.Select(a => ToLease(a.ActionId, a.Token, expires, a.Lead, a.Step, a.Attempt, a.Variant, a.SenderId, campaignPlans[a.Lead.CampaignId]))
            .Concat(offeredAgain.Select(o => ToLease(o.Action.ActionId, o.Token, expires, o.Lead, o.Action.Step, o.Action.Attempt, o.Action.Variant,
                o.Action.SenderId, campaignPlans[o.Lead.CampaignId])))
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

    private static bool Available(SenderPacing sender, CampaignPlans.Plan plan, DateOnly today, DateTimeOffset now) =>
        plan.SenderFree(sender.SenderId, sender.LastLeasedAt, sender.Day, sender.LeasedOnDay, today, now);

    private static DateTimeOffset FreeAt(SenderPacing sender, CampaignPlans.Plan plan, DateOnly today, Instant now)
    {
        var paced = sender.LastLeasedAt + plan.MinInterval ?? now.ToDateTimeOffset();
        return plan.AtAccountLimit(sender.SenderId, sender.Day, sender.LeasedOnDay, today) ? Later(paced, plan.NextDayStart(now).ToDateTimeOffset()) : paced;
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

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
        string? variantLabel, string senderId, CampaignPlans.Plan plan)
    {
        var campaign = plan.Campaign;
        var step = plan.Step(stepNumber);
        var variant = variantLabel is null ? null : step.Variants.FirstOrDefault(v => v.Label == variantLabel);
        var voice = campaign.VoiceConfig;
        var attributes = lead.Attributes is null ? [] : JsonNode.Parse(lead.Attributes)!.AsObject();
        return new LeaseActions.Lease(actionId, token, expires, campaign.CampaignId, campaign.UserId, lead.RowNumber, stepNumber, attempt,
            step.Channel!.Value, step.ActionType, step.MessageTemplate,
            variant is null ? null : new LeaseActions.LeasedVariant(variant.Label!, variant.Type!.Value, variant.TemplateId, variant.SenderProfileId),
            step.Channel == StepChannel.Email ? new LeaseActions.LeasedSender { AliasId = senderId } : new LeaseActions.LeasedSender { ConnectedAccountId = senderId },
            new LeaseActions.LeadRow(lead.Email, lead.FirstName, lead.LastName, lead.Company, lead.LinkedinUrl, lead.Phone, lead.Timezone, attributes),
            new LeaseActions.LeaseSettings(step.AiPersonalizationEnabled, step.TrackClicks, campaign.OpenTracking ?? false, campaign.Signature,
                campaign.SystemPrompt, voice?.AppId, voice?.AppVersion, voice?.AppType.ToWire(), campaign.WebhookConfig));
    }

    /// <summary>Every write of the claim as one batch of statements: one round trip, whichever of them it needs.</summary>
    private static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Request request, DateTimeOffset now,
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
        var leased = created.Select(a => (a.Lead, a.ActionId, Sender: a.NewSender ? a.SenderId : null))
            .Concat(offeredAgain.Select(o => (o.Lead, o.Action.ActionId, Sender: (string?)null))).ToList();
        if (leased.Count > 0)
        {
            statements.Add(LeasedLeadsSql);
            parameters.AddDynamicParams(new
            {
                leased_campaigns = leased.Select(l => l.Lead.CampaignId).ToArray(),
                leased_rows = leased.Select(l => l.Lead.RowNumber).ToArray(),
                leased_actions = leased.Select(l => l.ActionId).ToArray(),
                leased_senders = leased.Select(l => l.Sender).ToArray(),
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
        if (touchedSenders.Count > 0)
        {
            statements.Add(SendersSql);
            parameters.AddDynamicParams(new
            {
                sender_campaigns = touchedSenders.Select(s => s.CampaignId).ToArray(),
                sender_ids = touchedSenders.Select(s => s.Sender.SenderId).ToArray(),
                sender_days = touchedSenders.Select(s => s.Sender.Day).ToArray(),
                sender_counts = touchedSenders.Select(s => s.Sender.LeasedOnDay).ToArray(),
                sender_lasts = touchedSenders.Select(s => s.Sender.LastLeasedAt).ToArray(),
                sender_leads = touchedSenders.Select(s => s.Sender.Leads).ToArray(),
            });
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
            });
        }
        if (statements.Count > 0)
            await connection.ExecuteAsync(new CommandDefinition(string.Join(";\n", statements), parameters, transaction, cancellationToken: ct));
    }

    private async Task<DateTimeOffset?> NextDueAsync(NpgsqlConnection connection, string channel, CancellationToken ct) =>
        await connection.QuerySingleOrDefaultAsync<DateTimeOffset?>(new CommandDefinition(NextDueSql,
            new { channel, dispatching = Wire(CampaignStatusRules.Dispatching), now = clock.GetUtcNow() }, cancellationToken: ct));

    private static string[] Wire(IEnumerable<CampaignStatus> statuses) => [.. statuses.Select(status => status.ToWire())];

    // Pending leads of a campaign past its end_date never start (the sweep stops them); leads in the sequence finish it.
    private const string CandidatesSql = """
        select l.campaign_id, l.row_number, l.current_step, l.attempt, l.sender_id, l.timezone, l.open_action_id, c.updated_at,
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
        select campaign_id, day, leased_on_day from campaign_pacing where campaign_id = any(@ids) for update skip locked;
        """;

    // Only the senders of campaigns whose pacing row this claim holds (the statement before locked them; locking them
    // again here finds the same rows): two claims splitting a campaign's counter and its senders would both lease nothing.
    private const string LockSendersSql = """
        select campaign_id, sender_id, day, leased_on_day, last_leased_at, leads
        from campaign_senders
        where channel = @channel
          and campaign_id in (select campaign_id from campaign_pacing where campaign_id = any(@ids) for update skip locked)
        for update skip locked;
        """;

    private const string LockOpenActionsSql = """
        select action_id, state, lease_expires_at, step, attempt, variant, sender_id
        from actions where action_id = any(@openIds)
        for update skip locked;
        """;

    private const string InsertActionsSql = """
        insert into actions (action_id, campaign_id, row_number, step, attempt, channel, variant, sender_id, state, lease_token,
                             lease_expires_at, worker, leased_at)
        select a.id, a.campaign_id, a.row_number, a.step, a.attempt, @channel, a.variant, a.sender_id, 'leased', a.token, @expires, @worker, @now
        from unnest(@ids::uuid[], @campaigns::uuid[], @rows::int[], @steps::int[], @attempts::int[], @variants::text[], @senders::text[], @tokens::uuid[])
             as a (id, campaign_id, row_number, step, attempt, variant, sender_id, token)
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
        set status = @active, next_action_at = @expires, open_action_id = x.action_id, sender_id = coalesce(x.sender_id, l.sender_id), updated_at = @now
        from unnest(@leased_campaigns::uuid[], @leased_rows::int[], @leased_actions::uuid[], @leased_senders::text[])
             as x (campaign_id, row_number, action_id, sender_id)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    private const string DeferSql = """
        update leads l
        set next_action_at = x.due
        from unnest(@deferred_campaigns::uuid[], @deferred_rows::int[], @deferred_dues::timestamptz[]) as x (campaign_id, row_number, due)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    private const string SendersSql = """
        update campaign_senders s
        set day = x.day, leased_on_day = x.count, last_leased_at = x.last, leads = x.leads
        from unnest(@sender_campaigns::uuid[], @sender_ids::text[], @sender_days::date[], @sender_counts::int[], @sender_lasts::timestamptz[],
                    @sender_leads::int[])
             as x (campaign_id, sender_id, day, count, last, leads)
        where s.campaign_id = x.campaign_id and s.sender_id = x.sender_id
        """;

    private const string PacingSql = """
        update campaign_pacing p
        set day = x.day, leased_on_day = x.count
        from unnest(@pacing_campaigns::uuid[], @pacing_days::date[], @pacing_counts::int[]) as x (campaign_id, day, count)
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
