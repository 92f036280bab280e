// Creates a campaign, always as a draft, after checking the whole of it against the contract.
using System.Security.Claims;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class CreateCampaign
{
    public static async Task<Results<Created<CampaignResponse>, ProblemHttpResult>> Endpoint(
        CampaignSettings request, ClaimsPrincipal user, Handler handler, HttpResponse response, CancellationToken ct)
    {
        var result = await handler.HandleAsync(request, user.UserId(), ct);
        if (result.Errors is { } errors)
            return Problems.Invalid("The campaign is invalid.", errors);
        response.Headers.ETag = ETags.For(result.Row!.Version);
        return TypedResults.Created($"/api/v1/campaigns/{result.Row.Campaign.CampaignId}", result.Row.Campaign);
    }

    /// <summary>Rules of the request itself, before defaults and collapsing.</summary>
    public sealed class RequestValidator : AbstractValidator<CampaignSettings>
    {
        public RequestValidator() =>
            RuleFor(c => c.AccountLimits).Must(limits => limits!.Count <= 50).When(c => c.AccountLimits is not null)
                .WithMessage("At most 50 entries per request.");
    }

    public sealed record Result(CampaignRows.Row? Row, Dictionary<string, string[]>? Errors);

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, RequestValidator requestValidator, CampaignValidator campaignValidator)
    {
        public async Task<Result> HandleAsync(CampaignSettings request, Guid userId, CancellationToken ct)
        {
            var requestCheck = await requestValidator.ValidateAsync(request, ct);
            var campaign = request.WithDefaults();
            var campaignCheck = await campaignValidator.ValidateForUserAsync(campaign, userId, ct);
            if (!requestCheck.IsValid || !campaignCheck.IsValid)
                return new Result(null, requestCheck.ToErrors().Concat(campaignCheck.ToErrors())
                    .GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.SelectMany(e => e.Value).Distinct().ToArray()));

            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(ct);
            var row = await connection.QuerySingleAsync<CampaignRows.Row>(new CommandDefinition(Sql,
                Parameters(campaign, Guid.CreateVersion7(now), userId, now), cancellationToken: ct));
            return new Result(row, null);
        }

        private static object Parameters(CampaignSettings c, Guid campaignId, Guid userId, DateTimeOffset now) => new
        {
            campaignId,
            userId,
            c.DatasetId,
            c.Name,
            c.Description,
            Type = c.Type!.Value.ToWire(),
            LaunchType = c.LaunchType!.Value.ToWire(),
            c.StartDate,
            c.EndDate,
            c.DailyLimit,
            c.SendingWindowStart,
            c.SendingWindowEnd,
            c.MinIntervalSeconds,
            c.Timezone,
            SendDays = c.SendDays!.Select(day => day.ToWire()).ToArray(),
            OperatingHours = Document(c.OperatingHours),
            StepsConfig = Document(c.StepsConfig),
            AliasIds = c.AliasIds?.ToArray(),
            AccountLimits = Document(c.AccountLimits),
            c.ConnectedAccountId,
            c.SkipOtherCampaigns,
            c.StopOnReply,
            c.OpenTracking,
            c.Signature,
            VoiceConfig = Document(c.VoiceConfig),
            WebhookConfig = Document(c.WebhookConfig),
            c.SystemPrompt,
            UnreviewedLaunchPolicy = c.UnreviewedLaunchPolicy!.Value.ToWire(),
            c.PersonalizationReviewedAt,
            c.PlaygroundDiscoveryDismissedAt,
            now,
        };

        private static string? Document<T>(T? value) => value is null ? null : JsonSerializer.Serialize(value, Json.Options);
    }

    private const string Sql = $"""
        insert into campaigns as c (
            campaign_id, user_id, dataset_id, name, description, type, launch_type, start_date, end_date,
            daily_limit, sending_window_start, sending_window_end, min_interval_seconds, timezone, send_days,
            operating_hours, steps_config, alias_ids, account_limits, connected_account_id, skip_other_campaigns,
            stop_on_reply, open_tracking, signature, voice_config, webhook_config, system_prompt,
            unreviewed_launch_policy, personalization_reviewed_at, playground_discovery_dismissed_at, created_at, updated_at)
        values (
            @campaignId, @userId, @DatasetId, @Name, @Description, @Type, @LaunchType, @StartDate, @EndDate,
            @DailyLimit, @SendingWindowStart, @SendingWindowEnd, @MinIntervalSeconds, @Timezone, @SendDays,
            cast(@OperatingHours as jsonb), cast(@StepsConfig as jsonb), @AliasIds, cast(@AccountLimits as jsonb),
            @ConnectedAccountId, @SkipOtherCampaigns, @StopOnReply, @OpenTracking, @Signature,
            cast(@VoiceConfig as jsonb), cast(@WebhookConfig as jsonb), @SystemPrompt,
            @UnreviewedLaunchPolicy, @PersonalizationReviewedAt, @PlaygroundDiscoveryDismissedAt, @now, @now)
        returning {CampaignRows.Columns}
        """;
}
