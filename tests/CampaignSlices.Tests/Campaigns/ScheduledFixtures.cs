using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Scheduled launches as the tests of triggers and the unreviewed-launch policy need them.</summary>
public static class ScheduledFixtures
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The Quartz trigger of a campaign's scheduled launch as stored: when it fires next, and its state.</summary>
    public sealed record Trigger(DateTimeOffset NextFireTime, string State);

    /// <summary>A start_date <paramref name="ahead"/> from now, whole milliseconds so it survives the round trip unchanged.</summary>
    public static DateTimeOffset StartIn(TimeSpan ahead)
    {
        var start = DateTimeOffset.UtcNow + ahead;
        return start.AddTicks(-(start.UtcTicks % TimeSpan.TicksPerMillisecond));
    }

    /// <summary>An email campaign over three good rows (its second step has an AI variant), scheduled for <paramref name="start"/>.</summary>
    public static async Task<string> ScheduleAsync(ApiFactory api, HttpClient client, Guid user, DateTimeOffset start,
        Func<JsonObject, JsonObject>? edit = null)
    {
        var dataset = await SeedDatasetAsync(api, user);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("""
                insert into dataset_rows (dataset_id, row_number, email, first_name)
                select @dataset, n, 'lead' || n || '@example.com', 'Lead' from generate_series(1, 3) n
                """, new { dataset });
        var body = Email(dataset).With("launch_type", "scheduled").With("start_date", start.ToString("O"));
        var id = (string)(await CreateAsync(client, edit is null ? body : edit(body)))["campaign_id"]!;
        var (status, launch) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch");
        Assert.True(status == 202, launch.ToJsonString());
        Assert.Equal("scheduled", (string?)launch["campaign"]!["status"]);
        return id;
    }

    /// <summary>The stored trigger of the campaign's scheduled launch, or null when there is none.</summary>
    public static async Task<Trigger?> TriggerAsync(ApiFactory api, string campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        var row = await db.QuerySingleOrDefaultAsync<(long NextFireTime, string TriggerState)?>("""
            select next_fire_time, trigger_state from quartz.qrtz_triggers
            where trigger_group = 'scheduled-launch' and trigger_name = @name
            """, new { name = $"launch-{campaignId}" });
        // Quartz.NET stores times as UTC ticks.
        return row is { } found ? new Trigger(new DateTimeOffset(found.NextFireTime, TimeSpan.Zero), found.TriggerState) : null;
    }

    /// <summary>Whether the job behind the campaign's scheduled launch is still stored.</summary>
    public static async Task<bool> LaunchJobExistsAsync(ApiFactory api, string campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<bool>(
            "select exists(select 1 from quartz.qrtz_job_details where job_group = 'scheduled-launch' and job_name = @name)",
            new { name = $"launch-{campaignId}" });
    }

    /// <summary>
    /// Waits until the campaign's launch trigger and job are gone. A fired trigger is removed only after its
    /// job has returned, a moment after the job's own transaction made the change a test waits for.
    /// </summary>
    public static async Task WaitForNoTriggerAsync(ApiFactory api, string campaignId)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await TriggerAsync(api, campaignId) is not null || await LaunchJobExistsAsync(api, campaignId))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"the launch trigger of campaign {campaignId} is still stored");
            await Task.Delay(100, Ct);
        }
    }

    /// <summary>Waits until the clock has passed <paramref name="moment"/>.</summary>
    public static async Task WaitPastAsync(DateTimeOffset moment)
    {
        while (DateTimeOffset.UtcNow <= moment)
            await Task.Delay(100, Ct);
    }

    public static string[] EventTypes(IEnumerable<JsonObject> events) => events.Select(e => (string)e["type"]!).ToArray();

    public static async Task<int> LeadCountAsync(ApiFactory api, string campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @id", new { id = Guid.Parse(campaignId) });
    }
}
