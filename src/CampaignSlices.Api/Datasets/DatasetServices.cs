namespace CampaignSlices.Api.Datasets;

/// <summary>What the datasets area needs beyond its Mediator handlers.</summary>
public static class DatasetServices
{
    public static void AddDatasets(this WebApplicationBuilder builder) =>
        builder.Services.AddSingleton(ImportDataset.Settings.Read(builder.Configuration));
}
