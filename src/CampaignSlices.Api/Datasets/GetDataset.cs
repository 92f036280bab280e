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
        var dataset = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(Sql,
            new { datasetId, userId = user.UserId() }, cancellationToken: ct));
        return dataset is null
            ? Problems.NotFound($"Dataset {datasetId} was not found.")
            : TypedResults.Ok(new DatasetResponse(dataset.DatasetId, dataset.Name, dataset.RowCount, dataset.Columns,
                new DateTimeOffset(dataset.CreatedAt, TimeSpan.Zero)));
    }

    // Dapper matches a record's constructor by the reader's exact field types (text[] reads as Array,
    // timestamptz as DateTime), so the row binds by property.
    private sealed class Row
    {
        public Guid DatasetId { get; init; }
        public string Name { get; init; } = "";
        public int RowCount { get; init; }
        public string[] Columns { get; init; } = [];
        public DateTime CreatedAt { get; init; }
    }

    private const string Sql = """
        select dataset_id, name, row_count, columns, created_at
        from datasets
        where dataset_id = @datasetId and user_id = @userId
        """;
}
