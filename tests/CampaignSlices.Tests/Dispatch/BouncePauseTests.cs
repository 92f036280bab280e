using System.Text.Json.Nodes;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>bounce_pause_percent: the field, and the guard that pauses a campaign whose email bounces too often.</summary>
public sealed class BouncePauseTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Fifty_sends_with_a_bounced_share_at_exactly_the_threshold_pause_the_campaign_and_fewer_sends_do_not()
    {
        var (worker, leases, campaignId, user) = await LeasedAsync(10);

        // 5 bounced of 49: over 10%, but too few to judge.
        Assert.Equal(200, (await ReportManyAsync(worker, leases[..5], "bounced")).Status);
        Assert.Equal(200, (await ReportManyAsync(worker, leases[5..49], "sent")).Status);
        Assert.Equal("active", (string)(await GetAsync(user, campaignId))["status"]!);

        // The 50th: 5 of 50 is exactly 10%.
        Assert.Equal(200, (await ReportManyAsync(worker, leases[49..], "sent")).Status);

        var campaign = await GetAsync(user, campaignId);
        Assert.Equal(("paused", "bounce_rate_exceeded"), ((string)campaign["status"]!, (string)campaign["paused_reason"]!));
        var paused = Assert.Single(await EventsAsync(user, campaignId), e => (string)e["type"]! == "bounce_rate_exceeded");
        Assert.Equal(("active", "paused", "system", "bounce_rate_exceeded"),
            ((string)paused["from_status"]!, (string)paused["to_status"]!, (string)paused["actor"]!, (string)paused["reason"]!));
        Assert.Equal((50, 5, 10.0), ((int)paused["details"]!["email_closes"]!, (int)paused["details"]!["email_bounces"]!,
            (double)paused["details"]!["bounce_pause_percent"]!));
        // Made in SQL by the statement that paused the campaign: a version-7 id, its time the event's to the millisecond.
        var eventId = Guid.Parse((string)paused["event_id"]!);
        Assert.Equal(7, eventId.Version);
        Assert.Equal(((DateTimeOffset)paused["created_at"]!).ToUnixTimeMilliseconds(), long.Parse(eventId.ToString("N")[..12], System.Globalization.NumberStyles.HexNumber));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from webhook_deliveries where campaign_id = @campaignId and payload ->> 'type' = 'campaign.bounce_rate_exceeded'", new { campaignId }));
        var (_, stats) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");
        Assert.Equal("paused", (string)stats["not_sending_reason"]!);
    }

    [Fact]
    public async Task A_share_below_the_threshold_keeps_sending_until_a_later_bounce_event_reaches_it()
    {
        var (worker, leases, campaignId, user) = await LeasedAsync(10);
        Assert.Equal(200, (await ReportManyAsync(worker, leases[..4], "bounced")).Status);
        Assert.Equal(200, (await ReportManyAsync(worker, leases[4..], "sent")).Status);
        Assert.Equal("active", (string)(await GetAsync(user, campaignId))["status"]!);

        // A bounce reported later for a lead whose email was sent: 5 of 50.
        var (status, answer) = await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/lead-events", new JsonObject
        {
            ["action_id"] = (string)leases[10]["action_id"]!, ["type"] = "bounced", ["occurred_at"] = "2026-03-02T10:15:00Z",
        });

        Assert.Equal((200, "failed"), (status, (string)answer["lead_status"]!));
        Assert.Equal("bounce_rate_exceeded", (string)(await GetAsync(user, campaignId))["paused_reason"]!);
    }

    [Fact]
    public async Task Null_turns_the_guard_off()
    {
        var (worker, leases, campaignId, user) = await LeasedAsync(null);

        Assert.Equal(200, (await ReportManyAsync(worker, leases, "bounced")).Status);

        // Every lead failed: the campaign completes rather than pausing.
        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Null(campaign["paused_reason"]);
        Assert.DoesNotContain(await EventsAsync(user, campaignId), e => (string)e["type"]! == "bounce_rate_exceeded");
    }

    [Fact]
    public async Task The_field_defaults_to_5_takes_null_and_values_from_half_a_percent_to_100()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var body = Email(await SeedCompleteLeadsAsync(api, userId, 1));

        Assert.Equal(5, (double)(await CreateAsync(user, body))["bounce_pause_percent"]!);
        var off = await CreateAsync(user, body.With("bounce_pause_percent", null));
        Assert.True(off.ContainsKey("bounce_pause_percent"));
        Assert.Null(off["bounce_pause_percent"]);
        Assert.Equal(0.5, (double)(await CreateAsync(user, body.With("bounce_pause_percent", 0.5)))["bounce_pause_percent"]!);
        foreach (var bad in new JsonNode[] { 0.4, 100.5, "5" })
        {
            var (status, problem) = await SendAsync(user, HttpMethod.Post, "/api/v1/campaigns", body.With("bounce_pause_percent", bad));
            Assert.Equal(400, status);
            Assert.Equal(["bounce_pause_percent"], ErrorKeys(problem));
        }
    }

    [Fact]
    public async Task A_patch_changes_it_on_an_active_campaign_without_retiming_leads_and_null_clears_it()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, Email(await SeedCompleteLeadsAsync(api, userId, 1)).AlwaysOpen(api.Clock));

        Assert.Equal(12.5, (double)(await PatchAsync(user, campaignId, new JsonObject { ["bounce_pause_percent"] = 12.5 }))["bounce_pause_percent"]!);
        Assert.Null((await PatchAsync(user, campaignId, new JsonObject { ["bounce_pause_percent"] = null }))["bounce_pause_percent"]);
        var (status, problem) = await SendAsync(user, HttpMethod.Patch, $"/api/v1/campaigns/{campaignId}", new JsonObject { ["bounce_pause_percent"] = 101 });
        Assert.Equal(400, status);
        Assert.Equal(["bounce_pause_percent"], ErrorKeys(problem));
        Assert.DoesNotContain(await EventsAsync(user, campaignId), e => (string)e["type"]! == "schedule_changed");
    }

    /// <summary>A 50-lead email campaign (50 aliases, so that one lease takes every lead) with the given threshold; step 1 of each lead leased.</summary>
    private async Task<(HttpClient Worker, List<JsonObject> Leases, Guid CampaignId, HttpClient User)> LeasedAsync(double? percent)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var body = Email(await SeedCompleteLeadsAsync(api, userId, 50)).AlwaysOpen(api.Clock)
            .With("alias_ids", AliasIds(50)).With("bounce_pause_percent", percent)
            .With("webhook_config", new JsonObject { ["url"] = "https://hooks.example.com/campaigns" });
        var campaignId = await LaunchAsync(api, user, userId, body);
        var worker = api.WorkerClient();
        var leases = await LeaseAsync(worker);
        Assert.Equal(50, leases.Count);
        return (worker, leases, campaignId, user);
    }

    private static async Task<(int Status, JsonObject Body)> ReportManyAsync(HttpClient worker, IEnumerable<JsonObject> leases, string outcome)
    {
        var answer = await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/outcomes", new JsonObject
        {
            ["items"] = new JsonArray([.. leases.Select(lease => (JsonNode)new JsonObject
            {
                ["action_id"] = (string)lease["action_id"]!, ["lease_token"] = (string)lease["lease_token"]!, ["outcome"] = outcome,
            })]),
        });
        Assert.All(answer.Body["items"]!.AsArray(), item => Assert.Equal(200, (int)item!["status"]!));
        return answer;
    }
}
