namespace CampaignSlices.Api.Datasets;

/// <summary>The dataset as every dataset endpoint answers it.</summary>
public sealed record DatasetResponse(Guid DatasetId, string Name, int RowCount, string[] Columns, DateTimeOffset CreatedAt);

/// <summary>The columns `dataset_rows` holds by name, in table order; any other column is a row attribute.</summary>
public static class DatasetColumns
{
    public static readonly string[] Known = ["email", "first_name", "last_name", "company", "linkedin_url", "phone"];
}
