// Reads one of the caller's datasets; another user's answers 404 exactly as a missing one.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Datasets;

public static class GetDataset
{
    public sealed record Query(Guid DatasetId, Guid UserId) : IQuery<OneOf<DatasetResponse, Missing>>;

    public static async Task<Results<Ok<DatasetResponse>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "dataset_id")] Guid datasetId, ClaimsPrincipal user, ISender sender, CancellationToken ct) =>
        (await sender.Send(new Query(datasetId, user.UserId()), ct)).Match<Results<Ok<DatasetResponse>, ProblemHttpResult>>(
            dataset => TypedResults.Ok(dataset),
            notFound => notFound.ToProblem());

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, OneOf<DatasetResponse, Missing>>
    {
        public async ValueTask<OneOf<DatasetResponse, Missing>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var dataset = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(Sql, query, cancellationToken: ct));
            return dataset is null
                ? new Missing("Dataset", query.DatasetId)
                : new DatasetResponse(dataset.DatasetId, dataset.Name, dataset.RowCount, dataset.Columns, new DateTimeOffset(dataset.CreatedAt, TimeSpan.Zero));
        }
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
        where dataset_id = @DatasetId and user_id = @UserId
        """;
}
