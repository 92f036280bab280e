// Records what happened to a lead after its actions (a reply, a bounce, an unsubscribe, an open, a click, an accepted
// connection) with its effects, in one transaction; the same event reported again changes nothing and answers the same.
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public enum LeadEventType { Replied, Bounced, Unsubscribed, Opened, Clicked, Accepted }

public static class RecordLeadEvent
{
    public const int MaxDetailLength = 2000;

    /// <summary>Addressed by the lead (campaign_id and row_number) or by the action the event follows (action_id), never both.</summary>
    [RequiredProperties("type")]
    public sealed record Request
    {
        public Guid? CampaignId { get; init; }
        public int? RowNumber { get; init; }
        public Guid? ActionId { get; init; }
        public LeadEventType? Type { get; init; }
        public DateTimeOffset? OccurredAt { get; init; }
        public string? Detail { get; init; }
    }

    public sealed record Response(LeadStatus LeadStatus) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "lead_status" };
    }

    /// <summary>The campaign exists but holds no lead on that row: 404.</summary>
    public sealed record LeadMissing(Guid CampaignId, int RowNumber)
    {
        public ProblemHttpResult ToProblem() => Problems.NotFound($"Campaign {CampaignId} has no lead on row {RowNumber}.");
    }

    public sealed record Command(Request Event)
        : ICommand<OneOf<Response, Invalid, Missing, LeadMissing>>, IValidatedRequest<OneOf<Response, Invalid, Missing, LeadMissing>>
    {
        public OneOf<Response, Invalid, Missing, LeadMissing> Reject(Invalid invalid) => invalid with { Detail = "The lead event is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(HttpRequest request, ISender sender, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        return (await sender.Send(new Command(parsed.Value), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            recorded => TypedResults.Ok(recorded), invalid => invalid.ToProblem(), missing => missing.ToProblem(), lead => lead.ToProblem());
    }

    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Event).Custom((lead, context) =>
            {
                var byLead = lead.CampaignId is not null || lead.RowNumber is not null;
                if (lead.ActionId is not null && byLead)
                    context.AddFailure("action_id", "Give either action_id or campaign_id with row_number, not both.");
                else if (lead.ActionId is null && !byLead)
                    context.AddFailure("action_id", "The lead is required: campaign_id with row_number, or action_id (the action the event follows).");
                else if (byLead && lead.CampaignId is null)
                    context.AddFailure("campaign_id", "campaign_id is required with row_number.");
                else if (byLead && lead.RowNumber is null)
                    context.AddFailure("row_number", "row_number is required with campaign_id.");
                if (lead.RowNumber < 1)
                    context.AddFailure("row_number", "row_number is 1 or more.");
                if (lead.Type is null)
                    context.AddFailure("type", "type is required.");
                if (lead.Detail?.Length > MaxDetailLength)
                    context.AddFailure("detail", $"detail is at most {MaxDetailLength} characters.");
            });
        }
    }

    private sealed class LeadRow
    {
        public Guid CampaignId { get; init; }
        public int RowNumber { get; init; }
        public string Status { get; set; } = "";
        public Guid? OpenActionId { get; init; }
        public string? StopReason { get; set; }
        public bool Changed { get; set; }
    }

    /// <summary>The action an event follows: the one named, or the lead's last closed one.</summary>
    private sealed record FollowedAction(Guid ActionId, int Step, string? Variant, string Channel, string? Outcome);

    public sealed class Handler(NpgsqlDataSource db, CampaignPlans plans, TimeProvider clock)
        : ICommandHandler<Command, OneOf<Response, Invalid, Missing, LeadMissing>>
    {
        public async ValueTask<OneOf<Response, Invalid, Missing, LeadMissing>> Handle(Command command, CancellationToken ct)
        {
            var request = command.Event;
            var type = request.Type!.Value;
            var now = clock.GetUtcNow();
            // Without occurred_at the event happened when it is recorded (as an outcome's does), and is a new event.
            var occurredAt = (request.OccurredAt ?? now).ToUniversalTime();
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);

            // Who the event is about, read before any lock: the columns read here never change.
            var (campaignId, rowNumber) = (request.CampaignId, request.RowNumber ?? 0);
            if (request.ActionId is { } actionId)
            {
                if (await connection.QuerySingleOrDefaultAsync<(Guid CampaignId, int RowNumber)?>(new CommandDefinition(ActionLeadSql,
                        new { action_id = actionId }, transaction, cancellationToken: ct)) is not { } owner)
                    return new Missing("Action", actionId);
                (campaignId, rowNumber) = owner;
            }
            var target = await connection.QuerySingleOrDefaultAsync<(Guid UserId, bool HasLead, string? Email)?>(new CommandDefinition(TargetSql,
                new { campaign_id = campaignId, row_number = rowNumber }, transaction, cancellationToken: ct));
            if (target is not { } found)
                return CampaignNotFound.For(campaignId!.Value);
            if (!found.HasLead)
                return new LeadMissing(campaignId!.Value, rowNumber);

            // An unsubscribe reaches the user's other campaigns holding the same email (lower-cased by PostgreSQL, as duplicate_email
            // compares; enrolled emails are trimmed already).
            var inPlay = CampaignStatusRules.LeadsInPlay.Select(status => status.ToWire()).ToArray();
            var email = type == LeadEventType.Unsubscribed ? found.Email : null;
            var others = email is null ? [] : (await connection.QueryAsync<Guid>(new CommandDefinition(OtherCampaignsSql,
                new { user_id = found.UserId, campaign_id = campaignId, email, in_play = inPlay }, transaction, cancellationToken: ct))).ToArray();

            // Campaigns, then actions, then leads, each in order: the order of outcomes, cancels and the claim.
            var targets = new
            {
                campaign_id = campaignId, row_number = rowNumber, others, email, in_play = inPlay,
                campaigns = others.Append(campaignId!.Value).Distinct().Order().ToArray(),
            };
            Dictionary<Guid, DateTimeOffset> versions;
            Dictionary<Guid, string> openActions;
            List<LeadRow> leads;
            await using (var locked = await connection.QueryMultipleAsync(new CommandDefinition(LockCampaignsSql + LockActionsSql + LockLeadsSql,
                targets, transaction, cancellationToken: ct)))
            {
                versions = (await locked.ReadAsync<(Guid CampaignId, DateTimeOffset UpdatedAt)>()).ToDictionary(v => v.CampaignId, v => v.UpdatedAt);
                openActions = (await locked.ReadAsync<(Guid ActionId, string State)>()).ToDictionary(a => a.ActionId, a => a.State);
                leads = (await locked.ReadAsync<LeadRow>()).ToList();
            }
            var key = new { campaign_id = campaignId, row_number = rowNumber, type = type.ToWire(), occurred_at = occurredAt };
            var earlier = await connection.QuerySingleAsync<(string? Answered, bool Bounced)>(new CommandDefinition(EarlierSql, key, transaction,
                cancellationToken: ct));
            if (earlier.Answered is { } answered)
                return new Response((LeadStatus)Json.FromWire(typeof(LeadStatus), answered));

            var plan = (await plans.GetAsync(connection, transaction, versions, ct))[campaignId.Value];
            var followed = await connection.QuerySingleOrDefaultAsync<FollowedAction>(new CommandDefinition(
                request.ActionId is null ? LastClosedActionSql : NamedActionSql,
                new { action_id = request.ActionId, campaign_id = campaignId, row_number = rowNumber }, transaction, cancellationToken: ct));
            var lead = leads.Single(l => l.CampaignId == campaignId && l.RowNumber == rowNumber);
            var bounceCounts = new Dictionary<Guid, BounceGuard.Tally>();
            switch (type)
            {
                case LeadEventType.Replied when StopsOnReply(plan.Campaign, followed):
                    Stop(lead, LeadStatus.Stopped, "replied");
                    break;
                case LeadEventType.Bounced:
                    Stop(lead, LeadStatus.Failed, null);
                    // A bounce after a send moves that send to the bounced side, once per lead; a bounced outcome was counted when it closed.
                    if (!earlier.Bounced && followed is { Channel: "email", Outcome: "sent" })
                        bounceCounts[campaignId.Value] = new BounceGuard.Tally(0, 1);
                    break;
                case LeadEventType.Unsubscribed:
                    foreach (var reached in leads)
                        Stop(reached, LeadStatus.Stopped, "unsubscribed");
                    break;
            }

            var changed = leads.Where(l => l.Changed).ToList();
            await connection.ExecuteAsync(new CommandDefinition(WriteSql, new
            {
                campaign_id = campaignId, row_number = rowNumber, type = type.ToWire(), occurred_at = occurredAt,
                action_id = followed?.ActionId, step = followed?.Step, variant = followed?.Variant, detail = request.Detail,
                answered = lead.Status, now,
                lead_campaigns = changed.Select(l => l.CampaignId).ToArray(),
                lead_rows = changed.Select(l => l.RowNumber).ToArray(),
                lead_statuses = changed.Select(l => l.Status).ToArray(),
                lead_reasons = changed.Select(l => l.StopReason).ToArray(),
                // The waiting action of a lead that left play closes; a lease a worker holds stays, and its outcome leads to nothing further.
                cancelled = changed.Where(l => l.OpenActionId is { } open && openActions.GetValueOrDefault(open) == "released")
                    .Select(l => l.OpenActionId!.Value).ToArray(),
                unsubscribe = email is not null, user_id = found.UserId, email,
            }, transaction, cancellationToken: ct));
            var processed = changed.GroupBy(l => l.CampaignId).ToDictionary(group => group.Key, group => group.Count());
            await CampaignProgress.MoveAndCommitAsync(connection, transaction, processed, bounceCounts, now, [], new DynamicParameters(), ct);
            return new Response((LeadStatus)Json.FromWire(typeof(LeadStatus), lead.Status));
        }

        /// <summary>
        /// A reply ends the sequence when the campaign's stop_on_reply is on, and regardless of it when it answers a
        /// LinkedIn message or InMail (a conversation has begun; the automation must not message on over it).
        /// </summary>
        private static bool StopsOnReply(Campaign campaign, FollowedAction? followed) =>
            campaign.StopOnReply == true
            || followed is not null && campaign.Steps[followed.Step - 1] is { Channel: StepChannel.Linkedin, ActionType: LinkedinAction.Message or LinkedinAction.Inmail };

        /// <summary>A lead still in play leaves it; one already out stays as it is.</summary>
        private static void Stop(LeadRow lead, LeadStatus status, string? reason)
        {
            if (!CampaignStatusRules.LeadsInPlay.Contains((LeadStatus)Json.FromWire(typeof(LeadStatus), lead.Status)))
                return;
            lead.Status = status.ToWire();
            lead.StopReason = reason;
            lead.Changed = true;
        }
    }

    private const string ActionLeadSql = "select campaign_id, row_number from actions where action_id = @action_id";

    private const string TargetSql = """
        select c.user_id, l.row_number is not null as has_lead, lower(l.email) as email
        from campaigns c
        left join leads l on l.campaign_id = c.campaign_id and l.row_number = @row_number
        where c.campaign_id = @campaign_id
        """;

    private const string OtherCampaignsSql = """
        select distinct l.campaign_id
        from leads l
        where l.campaign_id in (select campaign_id from campaigns where user_id = @user_id and campaign_id <> @campaign_id)
          and lower(l.email) = @email and l.status = any(@in_play)
        """;

    private const string LockCampaignsSql = """
        select campaign_id, updated_at from campaigns where campaign_id = any(@campaigns) order by campaign_id for no key update;
        """;

    // The event's lead, and with an unsubscribe every lead in play holding its email in the user's other campaigns.
    private const string TargetLeads = """
        ((l.campaign_id = @campaign_id and l.row_number = @row_number)
         or (l.campaign_id = any(@others) and lower(l.email) = @email and l.status = any(@in_play)))
        """;

    private const string LockActionsSql = $"""
        select a.action_id, a.state from actions a
        where a.action_id in (select l.open_action_id from leads l where {TargetLeads})
        order by a.action_id
        for update;
        """;

    private const string LockLeadsSql = $"""
        select l.campaign_id, l.row_number, l.status, l.open_action_id, l.stop_reason
        from leads l
        where {TargetLeads}
        order by l.campaign_id, l.row_number
        for update
        """;

    private const string EarlierSql = """
        select (select answered_lead_status from lead_events
                where campaign_id = @campaign_id and row_number = @row_number and type = @type and occurred_at = @occurred_at) as answered,
               exists (select 1 from lead_events where campaign_id = @campaign_id and row_number = @row_number and type = 'bounced') as bounced
        """;

    private const string NamedActionSql = "select action_id, step, variant, channel, outcome from actions where action_id = @action_id";

    private const string LastClosedActionSql = """
        select action_id, step, variant, channel, outcome from actions
        where campaign_id = @campaign_id and row_number = @row_number and state = 'closed'
        order by reported_at desc, step desc, attempt desc
        limit 1
        """;

    private const string WriteSql = """
        update leads l
        set status = x.status, stop_reason = x.reason, next_action_at = null, updated_at = @now
        from unnest(@lead_campaigns::uuid[], @lead_rows::int[], @lead_statuses::text[], @lead_reasons::text[]) as x (campaign_id, row_number, status, reason)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number;
        update actions set state = 'cancelled', reported_at = @now where action_id = any(@cancelled);
        insert into lead_events (campaign_id, row_number, type, occurred_at, action_id, step, variant, detail, answered_lead_status, recorded_at)
        values (@campaign_id, @row_number, @type, @occurred_at, @action_id, @step, @variant, @detail, @answered, @now);
        insert into unsubscribes (user_id, email, campaign_id, row_number, unsubscribed_at)
        select @user_id, @email, @campaign_id, @row_number, @now where @unsubscribe
        on conflict (user_id, email) do nothing;
        """;
}
