// Reads one of the caller's campaigns with its ETag; another user's answers 404 exactly as a missing one.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class GetCampaign
{
    public static async Task<Results<Ok<CampaignResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, NpgsqlDataSource db, HttpResponse response, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await CampaignRows.FindAsync(connection, campaignId, user.UserId(), ct);
        if (row is null)
            return Problems.NotFound($"Campaign {campaignId} was not found.");
        response.Headers.ETag = ETags.For(row.Version);
        return TypedResults.Ok(row.Campaign);
    }
}
