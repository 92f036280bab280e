// Reads one of the caller's datasets; another user's answers 404 exactly as a missing one.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Datasets;

public static class GetDataset
{
    public static async Task<Results<Ok<DatasetResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "dataset_id")] Guid datasetId, ClaimsPrincipal user, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var dataset = await connection.QuerySingleOrDefaultAsync<DatasetResponse>(new CommandDefinition(Sql,
            new { datasetId, userId = user.UserId() }, cancellationToken: ct));
        return dataset is null
            ? Problems.NotFound($"Dataset {datasetId} was not found.")
            : TypedResults.Ok(dataset);
    }

    private const string Sql = """
        select dataset_id, name, row_count, columns, created_at
        from datasets
        where dataset_id = @datasetId and user_id = @userId
        """;
}
