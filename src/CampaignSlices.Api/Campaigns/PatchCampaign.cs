// Partially updates a campaign under the per-status field rules: the body and then the merged
// campaign are validated before anything is written, and only the changed columns are set.
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

public static class PatchCampaign
{
    public sealed record Command(Guid CampaignId, Guid UserId, JsonBody.Parsed<CampaignFields> Body, ETags.IfMatch? IfMatch)
        : ICommand<OneOf<Campaign, Invalid, Stale, Locked, Missing>>, IValidatedRequest<OneOf<Campaign, Invalid, Stale, Locked, Missing>>
    {
        public OneOf<Campaign, Invalid, Stale, Locked, Missing> Reject(Invalid invalid) => invalid with { Detail = "The update is invalid." };
    }

    /// <summary>Fields the campaign's status does not let change: 409 listing each of them.</summary>
    public sealed record Locked(CampaignStatus Status, IReadOnlyList<string> Fields)
    {
        public ProblemHttpResult ToProblem() => Problems.Conflict(
            $"The campaign is {Status.ToWire()}; these fields cannot change in that status: {string.Join(", ", Fields)}.",
            Fields.ToDictionary(field => field, _ => new[] { $"Locked while the campaign is {Status.ToWire()}." }));
    }

    public static async Task<Results<Ok<Campaign>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender,
        HttpRequest request, HttpResponse response, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<CampaignFields>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        var outcome = await sender.Send(new Command(campaignId, user.UserId(), parsed, ETags.Precondition(request)), ct);
        return outcome.Match<Results<Ok<Campaign>, ProblemHttpResult>>(
            campaign =>
            {
                response.Headers.ETag = ETags.For(campaign.Version);
                return TypedResults.Ok(campaign);
            },
            invalid => invalid.ToProblem(),
            stale => stale.ToProblem(),
            locked => locked.ToProblem(),
            notFound => notFound.ToProblem());
    }

    /// <summary>The body alone: null only where it clears a field, and the per-request limits.</summary>
    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator(CampaignRequestValidator request) =>
            RuleFor(command => command).CustomAsync(async (command, context, ct) =>
            {
                foreach (var field in command.Body.Json.EnumerateObject())
                    if (field.Value.ValueKind == JsonValueKind.Null && !FieldCatalogue.ByName[field.Name].Clearable)
                        context.AddFailure(field.Name, "Must not be null.");
                foreach (var failure in (await request.ValidateAsync(command.Body.Value, ct)).Errors)
                    context.AddFailure(failure);
            });
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers, CampaignValidator campaignValidator)
        : ICommandHandler<Command, OneOf<Campaign, Invalid, Stale, Locked, Missing>>
    {
        public async ValueTask<OneOf<Campaign, Invalid, Stale, Locked, Missing>> Handle(Command command, CancellationToken ct)
        {
            // The campaign, locked until commit, so the merge is validated against what it is written over.
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            if (await CampaignStore.LockAsync(connection, transaction, command.CampaignId, command.UserId, ct) is not { } current)
                return CampaignNotFound.For(command.CampaignId);
            if (command.IfMatch is { } precondition && !precondition.Allows(current.Version))
                return new Stale(current.Version);

            var stored = JsonSerializer.SerializeToNode<CampaignFields>(current, Json.Options)!.AsObject();
            var sent = JsonSerializer.SerializeToNode(command.Body.Value.Normalized(), Json.Options)!.AsObject();
            var changed = command.Body.Json.EnumerateObject().Select(field => FieldCatalogue.ByName[field.Name])
                .Where(field => !JsonNode.DeepEquals(stored[field.Name], sent[field.Name])).ToList();
            var locked = changed.Where(field => !CampaignStatusRules.MayChange(field.Name, current.Status, current.Type!.Value)).Select(field => field.Name).ToList();
            if (locked.Count > 0)
                return new Locked(current.Status, locked);
            if (changed.Count == 0)
                return current;

            foreach (var field in changed)
                stored[field.Name] = sent[field.Name]?.DeepClone();
            var merged = stored.Deserialize<CampaignFields>(Json.StoredOptions)!;
            var names = changed.Select(field => field.Name).ToList();
            var check = await campaignValidator.ValidateForUserAsync(merged, command.UserId, ct, names.ToHashSet());
            if (!check.IsValid)
                return new Invalid(check.ToErrors(), "The update is invalid.");

            var now = clock.GetUtcNow();
            var parameters = CampaignStore.Parameters(merged, changed);
            parameters.Add("campaign_id", command.CampaignId);
            parameters.Add("now", now);
            var saved = (await CampaignStore.ReadSingleAsync(connection, new CommandDefinition(UpdateSql(changed), parameters, transaction, cancellationToken: ct)))!;
            await CampaignEvents.RecordUpdateAsync(connection, transaction, command.CampaignId, CampaignEventType.Updated, current.Status,
                CampaignEvents.ByUser, now, new { fields = names }, ct);
            // A schedule change of a launched campaign re-times its waiting leads at once, in this transaction; so does a new
            // voice_config, whose call rate spreads afresh the calls that the old one held back.
            var scheduleChanged = names.Any(CampaignStatusRules.ScheduleFields.Contains);
            var callRateChanged = names.Contains("voice_config");
            if (CampaignStatusRules.Retimed.Contains(current.Status) && (scheduleChanged || callRateChanged))
            {
                if (callRateChanged)
                    await connection.ExecuteAsync(new CommandDefinition(ForgetCallSlotsSql, new { campaign_id = command.CampaignId }, transaction,
                        cancellationToken: ct));
                // The slots senders gave held leads were spaced by the old limits: the re-timed leads take new ones.
                if (scheduleChanged)
                    await connection.ExecuteAsync(new CommandDefinition(ForgetHeldSlotsSql, new { campaign_id = command.CampaignId }, transaction,
                        cancellationToken: ct));
                var retimed = await LeadTiming.RetimeAsync(connection, transaction, command.CampaignId, Schedule.FromCampaign(saved), now, ct);
                if (scheduleChanged)
                    await CampaignEvents.RecordUpdateAsync(connection, transaction, command.CampaignId, CampaignEventType.ScheduleChanged, current.Status,
                        CampaignEvents.ByUser, now, new { fields = names.Where(CampaignStatusRules.ScheduleFields.Contains), retimed_leads = retimed }, ct);
            }
            // A scheduled campaign's trigger follows its start_date, in the same transaction.
            var scheduler = await schedulers.GetScheduler(ct);
            using (scheduler.EnlistTransaction(transaction))
            {
                if (current.Status == CampaignStatus.Scheduled && names.Contains("start_date"))
                    await ScheduledLaunchJob.ScheduleAsync(scheduler, command.CampaignId, merged.StartDate!.Value, ct);
                await transaction.CommitAsync(ct);
            }
            return saved;
        }
    }

    private static string UpdateSql(IEnumerable<CampaignField> fields) => $"""
        update campaigns c
        set {string.Join(", ", fields.Select(field => $"{field.Column} = {field.Parameter}"))}, updated_at = @now
        where c.campaign_id = @campaign_id
        returning {CampaignStore.Columns}
        """;

    private const string ForgetCallSlotsSql = "update campaign_pacing set call_slot_at = null, call_slot_calls = 0 where campaign_id = @campaign_id";

    // Claims read and write a campaign's sender rows under its pacing row's lock (and lock no sender row): held first, so
    // that a claim running now cannot write back the slots it read.
    private const string ForgetHeldSlotsSql = """
        select 1 from campaign_pacing where campaign_id = @campaign_id for update;
        update campaign_senders set held_until = null where campaign_id = @campaign_id
        """;
}
