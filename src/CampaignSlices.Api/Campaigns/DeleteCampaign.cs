// Deletes a draft campaign; any other status keeps its history and answers 409.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class DeleteCampaign
{
    public static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, NpgsqlDataSource db, HttpRequest request, CancellationToken ct)
    {
        var userId = user.UserId();
        var ifMatch = ETags.Precondition(request);
        await using var connection = await db.OpenConnectionAsync(ct);
        var deletable = CampaignStatusRules.Deletable.Select(s => s.ToWire()).ToArray();
        var deleted = await connection.ExecuteAsync(new CommandDefinition(Sql,
            new { campaignId, userId, deletable, versions = ifMatch?.Versions }, cancellationToken: ct));
        if (deleted == 1)
            return TypedResults.NoContent();

        var current = await connection.QuerySingleOrDefaultAsync<(string Status, int Version)?>(new CommandDefinition(
            "select status, version from campaigns where campaign_id = @campaignId and user_id = @userId",
            new { campaignId, userId }, cancellationToken: ct));
        return current switch
        {
            null => Problems.NotFound($"Campaign {campaignId} was not found."),
            var (_, version) when ifMatch is { } precondition && !precondition.Allows(version) =>
                Problems.PreconditionFailed($"If-Match does not name the current version; the campaign is at {ETags.For(version)}."),
            var (status, _) => Problems.Conflict($"Only a draft can be deleted; the campaign is {status}.",
                new Dictionary<string, string[]> { ["status"] = [$"The campaign is {status}."] }),
        };
    }

    private const string Sql = """
        delete from campaigns
        where campaign_id = @campaignId and user_id = @userId and status = any(@deletable)
          and (@versions::integer[] is null or version = any(@versions))
        """;
}
