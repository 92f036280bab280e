namespace CampaignSlices.Api.Datasets;

/// <summary>The route table of the datasets area.</summary>
public static class DatasetEndpoints
{
    public static void MapDatasetEndpoints(this IEndpointRouteBuilder api)
    {
        var datasets = api.MapGroup("/datasets").WithTags("Datasets");
        datasets.MapGet("/{dataset_id}", GetDataset.Endpoint).WithName("GetDataset").WithSummary("Read a dataset");
    }
}
