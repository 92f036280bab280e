using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Crafted dataset rows, campaigns put straight into a status, and polling for the background launch.</summary>
public static class LaunchFixtures
{
    /// <summary>One dataset row as the import would store it; <paramref name="Attributes"/> is the custom columns as JSON.</summary>
    public sealed record Lead(int Row, string? Email = null, string? FirstName = null, string? LinkedinUrl = null,
        string? Phone = null, string? Attributes = null);

    /// <summary>A named person on row <paramref name="row"/> with everything a step of any channel needs.</summary>
    public static Lead Complete(int row) => new(row, $"lead{row}@example.com", $"Lead{row}", $"https://www.linkedin.com/in/lead-{row}/", $"+1415555{row:0000}");

    public static async Task<Guid> SeedLeadsAsync(ApiFactory api, Guid userId, IEnumerable<Lead> leads, params string[] extraColumns)
    {
        var datasetId = await SeedDatasetAsync(api, userId, extraColumns);
        var rows = leads.Select(lead => new
        {
            datasetId, row = lead.Row, email = lead.Email, firstName = lead.FirstName, linkedinUrl = lead.LinkedinUrl,
            phone = lead.Phone, attributes = lead.Attributes,
        }).ToList();
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("""
            insert into dataset_rows (dataset_id, row_number, email, first_name, linkedin_url, phone, attributes)
            values (@datasetId, @row, @email, @firstName, @linkedinUrl, @phone, cast(@attributes as jsonb))
            """, rows);
        await db.ExecuteAsync("update datasets set row_count = @count where dataset_id = @datasetId", new { count = rows.Count, datasetId });
        return datasetId;
    }

    /// <summary>Rows 1..<paramref name="count"/>, all complete.</summary>
    public static Task<Guid> SeedCompleteLeadsAsync(ApiFactory api, Guid userId, int count) =>
        SeedLeadsAsync(api, userId, Enumerable.Range(1, count).Select(Complete));

    public static async Task<Guid> CreateIdAsync(HttpClient client, JsonObject body) =>
        Guid.Parse((string)(await CreateAsync(client, body))["campaign_id"]!);

    /// <summary>Puts a campaign into <paramref name="status"/> behind the API's back, as if its life had led there (no event, no job).</summary>
    public static async Task SetStatusAsync(ApiFactory api, Guid campaignId, string status, bool launched = false)
    {
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("""
            update campaigns
            set status = @status, launched_at = case when @launched then now() end,
                launch_requested_at = case when @status <> 'draft' then now() end, version = version + 1
            where campaign_id = @campaignId
            """, new { campaignId, status, launched });
    }

    public static async Task<JsonObject> GetAsync(HttpClient client, Guid campaignId)
    {
        var (status, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}");
        Assert.True(status == 200, $"GET answered {status}: {campaign.ToJsonString()}");
        return campaign;
    }

    /// <summary>The events as "type from->to" lines, oldest first, for readable assertions.</summary>
    public static async Task<string[]> EventLinesAsync(HttpClient client, Guid campaignId) =>
        (await EventsAsync(client, campaignId)).Select(e => $"{e["type"]} {e["from_status"]}->{e["to_status"]}").ToArray();
}
