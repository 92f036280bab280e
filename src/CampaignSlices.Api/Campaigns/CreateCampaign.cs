// Creates a campaign, always as a draft, after checking the whole of it against the contract.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class CreateCampaign
{
    [RequiredProperties("dataset_id", "name", "type", "steps_config")]
    public sealed record Request : CampaignSettings;

    public static async Task<Results<Created<CampaignResponse>, ProblemHttpResult>> Endpoint(
        Request request, ClaimsPrincipal user, Handler handler, HttpResponse response, CancellationToken ct)
    {
        var result = await handler.HandleAsync(request, user.UserId(), ct);
        if (result.Errors is { } errors)
            return Problems.Invalid("The campaign is invalid.", errors);
        response.Headers.ETag = ETags.For(result.Row!.Version);
        return TypedResults.Created($"/api/v1/campaigns/{result.Row.Campaign.CampaignId}", result.Row.Campaign);
    }

    public sealed record Result(CampaignRows.Row? Row, Dictionary<string, string[]>? Errors);

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, CampaignRequestValidator requestValidator, CampaignValidator campaignValidator)
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
            var parameters = CampaignRows.Parameters(campaign, CampaignRows.Writable.Values);
            parameters.Add("campaign_id", Guid.CreateVersion7(now));
            parameters.Add("user_id", userId);
            parameters.Add("now", now);
            await using var connection = await db.OpenConnectionAsync(ct);
            var row = await connection.QuerySingleAsync<CampaignRows.Row>(new CommandDefinition(Sql, parameters, cancellationToken: ct));
            return new Result(row, null);
        }
    }

    private static readonly string Sql = $"""
        insert into campaigns as c (campaign_id, user_id, created_at, updated_at, {string.Join(", ", CampaignRows.Writable.Keys)})
        values (@campaign_id, @user_id, @now, @now, {string.Join(", ", CampaignRows.Writable.Values.Select(column => column.Parameter))})
        returning {CampaignRows.Columns}
        """;
}
