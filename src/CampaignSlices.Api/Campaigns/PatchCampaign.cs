// Partially updates a campaign under the per-status field rules: the body and then the merged
// campaign are validated before anything is written, and only the changed columns are set.
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

public static class PatchCampaign
{
    /// <summary>Fields a client may clear with an explicit null; null for any other field is 400.</summary>
    public static readonly IReadOnlySet<string> NullableFields = new HashSet<string>
    {
        "description", "start_date", "end_date", "operating_hours", "alias_ids", "connected_account_id", "signature",
        "voice_config", "webhook_config", "system_prompt", "personalization_reviewed_at", "playground_discovery_dismissed_at",
    };

    public static async Task<Results<Ok<CampaignResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, [FromBody] JsonElement body, ClaimsPrincipal user, Handler handler,
        HttpRequest request, HttpResponse response, CancellationToken ct)
    {
        var outcome = await handler.HandleAsync(campaignId, user.UserId(), body, ETags.Precondition(request), ct);
        switch (outcome)
        {
            case Outcome.Saved saved:
                response.Headers.ETag = ETags.For(saved.Row.Version);
                return TypedResults.Ok(saved.Row.Campaign);
            case Outcome.Invalid invalid:
                return Problems.Invalid("The update is invalid.", invalid.Errors);
            case Outcome.Locked locked:
                return Problems.Conflict(
                    $"The campaign is {locked.Status.ToWire()}; these fields cannot change in that status: {string.Join(", ", locked.Fields)}.",
                    locked.Fields.ToDictionary(field => field, field => new[] { $"Locked while the campaign is {locked.Status.ToWire()}." }));
            case Outcome.Stale stale:
                return Problems.PreconditionFailed($"If-Match does not match; the campaign is at {ETags.For(stale.Version)}.");
            default:
                return Problems.NotFound($"Campaign {campaignId} was not found.");
        }
    }

    public abstract record Outcome
    {
        public sealed record Saved(CampaignRows.Row Row) : Outcome;
        public sealed record Invalid(Dictionary<string, string[]> Errors) : Outcome;
        public sealed record Locked(CampaignStatus Status, IReadOnlyList<string> Fields) : Outcome;
        public sealed record Stale(int Version) : Outcome;
        public sealed record NotFound : Outcome;
    }

    public sealed class Handler(
        NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers, CampaignRequestValidator requestValidator, CampaignValidator campaignValidator)
    {
        public async Task<Outcome> HandleAsync(Guid campaignId, Guid userId, JsonElement body, ETags.IfMatch? ifMatch, CancellationToken ct)
        {
            // The body alone: types, duplicates, nulls, per-request limits.
            if (body.ValueKind != JsonValueKind.Object)
                return new Outcome.Invalid(new() { ["$"] = ["The body must be a JSON object of the fields to change."] });
            var patch = Deserialize(body);
            var fields = body.EnumerateObject().Select(field => field.Name).ToList();
            var errors = body.EnumerateObject().Where(field => field.Value.ValueKind == JsonValueKind.Null && !NullableFields.Contains(field.Name))
                .ToDictionary(field => field.Name, _ => new[] { "Must not be null." });
            foreach (var (field, messages) in (await requestValidator.ValidateAsync(patch, ct)).ToErrors())
                errors[field] = messages;
            if (errors.Count > 0)
                return new Outcome.Invalid(errors);

            // The campaign, locked until commit, so the merge is validated against what it is written over.
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var row = await connection.QuerySingleOrDefaultAsync<CampaignRows.Row>(new CommandDefinition(
                $"select {CampaignRows.Columns} from campaigns c where c.campaign_id = @campaignId and c.user_id = @userId for update",
                new { campaignId, userId }, transaction, cancellationToken: ct));
            if (row is null)
                return new Outcome.NotFound();
            if (ifMatch is { } precondition && !precondition.Allows(row.Version))
                return new Outcome.Stale(row.Version);

            var current = row.Campaign;
            var stored = JsonSerializer.SerializeToNode(current, Json.Options)!.AsObject();
            var sent = JsonSerializer.SerializeToNode(patch.Normalized(), Json.Options)!.AsObject();
            var changed = fields.Where(field => !JsonNode.DeepEquals(stored[field], sent[field])).ToList();
            var locked = changed.Where(field => !CampaignStatusRules.MayChange(field, current.Status, current.Type)).ToList();
            if (locked.Count > 0)
                return new Outcome.Locked(current.Status, locked);
            if (changed.Count == 0)
                return new Outcome.Saved(row);

            foreach (var field in changed)
                stored[field] = sent[field]?.DeepClone();
            var merged = stored.Deserialize<CampaignSettings>(Json.StoredOptions)!;
            var check = await campaignValidator.ValidateForUserAsync(merged, userId, ct, changed.ToHashSet());
            if (!check.IsValid)
                return new Outcome.Invalid(check.ToErrors());

            var columns = changed.Select(field => CampaignRows.Writable[field]).ToList();
            var parameters = CampaignRows.Parameters(merged, columns);
            parameters.Add("campaign_id", campaignId);
            parameters.Add("now", clock.GetUtcNow());
            var saved = await connection.QuerySingleAsync<CampaignRows.Row>(new CommandDefinition(UpdateSql(columns), parameters, transaction, cancellationToken: ct));
            var now = clock.GetUtcNow();
            await CampaignEvents.RecordAsync(connection, transaction, campaignId, "updated", current.Status, current.Status,
                CampaignEvents.ByUser, now, ct, details: new { fields = changed });
            // A schedule change on an active campaign is recorded so the dispatcher can re-time waiting leads.
            if (current.Status == CampaignStatus.Active && changed.Any(CampaignStatusRules.ScheduleFields.Contains))
                await CampaignEvents.RecordAsync(connection, transaction, campaignId, "schedule_changed", current.Status, current.Status,
                    CampaignEvents.ByUser, now, ct, details: new { fields = changed.Where(CampaignStatusRules.ScheduleFields.Contains) });
            // A scheduled campaign's trigger follows its start_date, in the same transaction.
            var scheduler = await schedulers.GetScheduler(ct);
            using (scheduler.EnlistTransaction(transaction))
            {
                if (current.Status == CampaignStatus.Scheduled && changed.Contains("start_date"))
                    await ScheduledLaunchJob.ScheduleAsync(scheduler, campaignId, merged.StartDate!.Value, ct);
                await transaction.CommitAsync(ct);
            }
            return new Outcome.Saved(saved);
        }

        private static CampaignSettings Deserialize(JsonElement body)
        {
            try
            {
                return body.Deserialize<CampaignSettings>(Json.Options)!;
            }
            catch (JsonException e)
            {
                // Answered like any body the framework could not bind: 400 naming the JSON path.
                throw new BadHttpRequestException("The request body is invalid.", StatusCodes.Status400BadRequest, e);
            }
        }
    }

    private static string UpdateSql(IEnumerable<CampaignRows.Column> columns) => $"""
        update campaigns c
        set {string.Join(", ", columns.Select(column => $"{column.Name} = {column.Parameter}"))},
            version = c.version + 1, updated_at = @now
        where c.campaign_id = @campaign_id
        returning {CampaignRows.Columns}
        """;
}
