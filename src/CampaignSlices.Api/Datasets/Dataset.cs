namespace CampaignSlices.Api.Datasets;

/// <summary>The dataset as every dataset endpoint answers it.</summary>
public sealed record DatasetResponse(Guid DatasetId, string Name, int RowCount, string[] Columns, DateTimeOffset CreatedAt);
