using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// Brings a new campaign into any status: through the API where a client can get it there (launch,
/// pause, cancel, and waiting for the enrollment job), and with SQL where only a job would
/// (draining, completed, failed) or where the API passes through it too quickly to catch (launching).
/// </summary>
public static class CampaignStates
{
    /// <summary>A dataset of the user with one row every channel can launch to.</summary>
    public static async Task<Guid> SeedLaunchableDatasetAsync(ApiFactory api, Guid userId)
    {
        var dataset = await SeedDatasetAsync(api, userId);
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("""
            insert into dataset_rows (dataset_id, row_number, email, first_name, linkedin_url, phone)
            values (@dataset, 1, 'ann@example.com', 'Ann', 'https://www.linkedin.com/in/ann-example', '+14155550100')
            """, new { dataset });
        await db.ExecuteAsync("update datasets set row_count = 1 where dataset_id = @dataset", new { dataset });
        return dataset;
    }

    /// <summary>Creates <paramref name="body"/> and takes it to <paramref name="status"/>; the campaign as it then is.</summary>
    public static async Task<JsonObject> CreateInStatusAsync(ApiFactory api, HttpClient client, JsonObject body, string status)
    {
        switch (status)
        {
            case "draft":
                return await CreateAsync(client, body);
            case "scheduled":
            {
                var campaign = await CreateAsync(client, body.With("launch_type", "scheduled").With("start_date", At(TimeSpan.FromHours(1))));
                var (code, launched) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign["campaign_id"]}/launch");
                Assert.True(code == 202, $"launch answered {code}: {launched}");
                return await ExpectStatusAsync(client, campaign, "scheduled");
            }
            case "paused" or "cancelled":
            {
                var scheduled = await CreateInStatusAsync(api, client, body, "scheduled");
                var action = status == "paused" ? "pause" : "cancel";
                var (code, answered) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{scheduled["campaign_id"]}/{action}");
                Assert.True(code == 200, $"{action} answered {code}: {answered}");
                return await ExpectStatusAsync(client, scheduled, status);
            }
            case "active":
            {
                var campaign = await CreateAsync(client, body);
                var (code, launched) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign["campaign_id"]}/launch");
                Assert.True(code == 202, $"launch answered {code}: {launched}");
                return await WaitForStatusAsync(client, (string)campaign["campaign_id"]!, "active");
            }
            case "draining" or "completed":
            {
                // The dispatcher (not built yet) moves an active campaign on; here the test does.
                var active = await CreateInStatusAsync(api, client, body, "active");
                await SetStatusAsync(api, active, status);
                return await ExpectStatusAsync(client, active, status);
            }
            case "launching" or "failed":
            {
                // Launching lasts only until the enrollment job runs, and failed needs that job to fail.
                var draft = await CreateAsync(client, body);
                await SetStatusAsync(api, draft, status);
                return await ExpectStatusAsync(client, draft, status);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(status), status, "No such status.");
        }
    }

    /// <summary>A timestamp <paramref name="fromNow"/> ahead, in whole seconds, spelled as the service spells it.</summary>
    public static string At(TimeSpan fromNow)
    {
        var at = DateTimeOffset.UtcNow.Add(fromNow);
        return new DateTimeOffset(at.Ticks - at.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
    }

    private static async Task SetStatusAsync(ApiFactory api, JsonObject campaign, string status)
    {
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("""
            update campaigns
            set status = @status,
                launch_requested_at = coalesce(launch_requested_at, now()),
                launch_error = case when @status = 'failed' then 'enrollment failed after its retries' else launch_error end,
                version = version + 1, updated_at = now()
            where campaign_id = @id
            """, new { status, id = Guid.Parse((string)campaign["campaign_id"]!) });
    }

    private static async Task<JsonObject> ExpectStatusAsync(HttpClient client, JsonObject campaign, string status)
    {
        var (code, current) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaign["campaign_id"]}");
        Assert.Equal(200, code);
        Assert.Equal(status, (string?)current["status"]);
        return current;
    }

}
