using Carter;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace CampaignSlices.Api.Datasets;

/// <summary>The route table of the datasets area.</summary>
public sealed class DatasetsModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup("/api/v1/datasets").WithTags("Datasets").WithIdempotencyKeys();
        datasets.MapPost("/", ImportDataset.Endpoint).WithName("ImportDataset")
            .WithSummary("Import a dataset from CSV (streamed, query name=) or from JSON rows")
            .Accepts<ImportDataset.Request>("application/json", "text/csv")
            .AddOpenApiOperationTransformer((operation, context, ct) =>
            {
                // The CSV body is text, not the JSON request's schema.
                if (operation.RequestBody?.Content?.TryGetValue("text/csv", out var csv) == true)
                    csv.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "UTF-8 CSV whose first line names the columns." };
                return Task.CompletedTask;
            })
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        datasets.MapGet("/{dataset_id}", GetDataset.Endpoint).WithName("GetDataset").WithSummary("Read a dataset")
            .ProducesProblem(StatusCodes.Status400BadRequest);
    }
}
