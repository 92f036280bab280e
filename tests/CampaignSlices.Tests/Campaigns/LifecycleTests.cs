using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Pause, resume, cancel, launch and delete from every status (docs/status-and-patch-rules.md), retries answered without change, events.</summary>
public sealed class LifecycleTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    /// <summary>
    /// The lifecycle table of docs/status-and-patch-rules.md written out: every status against every action, with the answer and the status after.
    /// "Already there" answers 200 unchanged: pause of paused, cancel of cancelled, and resume of a
    /// campaign already on its way (launching, scheduled, active), the statuses a resume leads to.
    /// </summary>
    [Theory]
    [InlineData("draft", "pause", 409, "draft")]
    [InlineData("draft", "resume", 409, "draft")]
    [InlineData("draft", "cancel", 409, "draft")]
    [InlineData("draft", "launch", 202, "launching")]
    [InlineData("draft", "delete", 204, "gone")]
    [InlineData("launching", "pause", 409, "launching")]
    [InlineData("launching", "resume", 200, "launching")]
    [InlineData("launching", "cancel", 409, "launching")]
    [InlineData("launching", "launch", 409, "launching")]
    [InlineData("launching", "delete", 409, "launching")]
    [InlineData("scheduled", "pause", 200, "paused")]
    [InlineData("scheduled", "resume", 200, "scheduled")]
    [InlineData("scheduled", "cancel", 200, "cancelled")]
    [InlineData("scheduled", "launch", 409, "scheduled")]
    [InlineData("scheduled", "delete", 409, "scheduled")]
    [InlineData("active", "pause", 200, "paused")]
    [InlineData("active", "resume", 200, "active")]
    [InlineData("active", "cancel", 200, "cancelled")]
    [InlineData("active", "launch", 409, "active")]
    [InlineData("active", "delete", 409, "active")]
    [InlineData("draining", "pause", 409, "draining")]
    [InlineData("draining", "resume", 409, "draining")]
    [InlineData("draining", "cancel", 200, "cancelled")]
    [InlineData("draining", "launch", 409, "draining")]
    [InlineData("draining", "delete", 409, "draining")]
    [InlineData("paused", "pause", 200, "paused")]
    [InlineData("paused", "resume", 200, "active")]
    [InlineData("paused", "cancel", 200, "cancelled")]
    [InlineData("paused", "launch", 409, "paused")]
    [InlineData("paused", "delete", 409, "paused")]
    [InlineData("completed", "pause", 409, "completed")]
    [InlineData("completed", "resume", 409, "completed")]
    [InlineData("completed", "cancel", 409, "completed")]
    [InlineData("completed", "launch", 409, "completed")]
    [InlineData("completed", "delete", 409, "completed")]
    [InlineData("failed", "pause", 409, "failed")]
    [InlineData("failed", "resume", 409, "failed")]
    [InlineData("failed", "cancel", 409, "failed")]
    [InlineData("failed", "launch", 409, "failed")]
    [InlineData("failed", "delete", 409, "failed")]
    [InlineData("cancelled", "pause", 409, "cancelled")]
    [InlineData("cancelled", "resume", 409, "cancelled")]
    [InlineData("cancelled", "cancel", 200, "cancelled")]
    [InlineData("cancelled", "launch", 409, "cancelled")]
    [InlineData("cancelled", "delete", 409, "cancelled")]
    public async Task Every_action_from_every_status(string status, string action, int expectedCode, string expectedStatus)
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedCompleteLeadsAsync(api, _user, 2));
        if (status == "scheduled")
            body = body.With("launch_type", "scheduled").With("start_date", DateTimeOffset.UtcNow.AddDays(1).ToString("O"));
        var campaign = await CreateIdAsync(client, body);
        // Launched statuses carry launched_at, which is what sends a resumed campaign back to active.
        await SetStatusAsync(api, campaign, status, launched: status is "active" or "draining" or "paused" or "completed" or "cancelled");
        var before = await GetAsync(client, campaign);

        var (code, answer) = action == "delete"
            ? await SendAsync(client, HttpMethod.Delete, $"/api/v1/campaigns/{campaign}")
            : await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/{action}");

        Assert.True(code == expectedCode, $"{action} of a {status} campaign answered {code}: {answer.ToJsonString()}");
        if (expectedStatus == "gone")
        {
            Assert.Equal(404, (await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaign}")).Status);
            return;
        }
        var answered = action == "launch" && code == 202 ? answer["campaign"]! : answer;
        if (code is 200 or 202)
            Assert.Equal(expectedStatus, (string?)answered["status"]);
        else
            Assert.Equal(["status"], ErrorKeys(answer));
        var events = await EventsAsync(client, campaign);
        if (expectedStatus == status)
        {
            // Refused or already there: nothing written at all.
            Assert.Equal(before.ToJsonString(), (await GetAsync(client, campaign)).ToJsonString());
            Assert.Empty(events);
        }
        else
        {
            // After a launch its job may have moved the campaign on already; the answer above showed launching.
            if (action != "launch")
                Assert.Equal(expectedStatus, (string?)(await GetAsync(client, campaign))["status"]);
            var first = events[0];
            Assert.Equal($"{EventTypes[action]} {status}->{expectedStatus}", $"{first["type"]} {first["from_status"]}->{first["to_status"]}");
            Assert.Equal("user", (string?)first["actor"]);
        }
    }

    private static readonly Dictionary<string, string> EventTypes = new()
    {
        ["pause"] = "paused", ["resume"] = "resumed", ["cancel"] = "cancelled", ["launch"] = "launch_requested",
    };

    [Fact]
    public async Task Repeated_pause_resume_and_cancel_answer_200_and_write_one_event_each()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 3)));
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch")).Status);
        await WaitForStatusAsync(client, campaign, "active");

        foreach (var (action, status, reason) in new[] { ("pause", "paused", "user_requested"), ("resume", "active", null), ("cancel", "cancelled", null) })
        {
            var (first, firstBody) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/{action}");
            var (again, againBody) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/{action}");
            Assert.Equal((200, 200), (first, again));
            Assert.Equal(status, (string?)firstBody["status"]);
            Assert.Equal(reason, (string?)firstBody["paused_reason"]);
            Assert.Equal(firstBody.ToJsonString(), againBody.ToJsonString());
        }

        Assert.Equal([
            "launch_requested draft->launching", "launched launching->active",
            "paused active->paused", "resumed paused->active", "cancelled active->cancelled",
        ], await EventLinesAsync(client, campaign));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(["stopped"], await db.QueryAsync<string>(
            "select distinct status from leads where campaign_id = @campaign", new { campaign }));
    }

    [Fact]
    public async Task Pausing_a_scheduled_campaign_removes_its_trigger_resuming_restores_it_and_cancelling_removes_it()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedCompleteLeadsAsync(api, _user, 2))
            .With("launch_type", "scheduled").With("start_date", DateTimeOffset.UtcNow.AddHours(1).ToString("O"));
        var campaign = await CreateIdAsync(client, body);

        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch")).Status);
        Assert.Equal(1, await TriggersAsync(campaign));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/pause")).Status);
        Assert.Equal(0, await TriggersAsync(campaign));
        var (resumed, campaignAfter) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/resume");
        Assert.Equal(200, resumed);
        Assert.Equal("scheduled", (string?)campaignAfter["status"]);
        Assert.Equal(1, await TriggersAsync(campaign));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/cancel")).Status);
        Assert.Equal(0, await TriggersAsync(campaign));
        Assert.Equal([
            "scheduled draft->scheduled", "paused scheduled->paused", "resumed paused->scheduled", "cancelled scheduled->cancelled",
        ], await EventLinesAsync(client, campaign));
    }

    [Theory]
    [InlineData("immediate")]
    [InlineData("scheduled")]
    public async Task Resuming_a_paused_campaign_that_never_launched_and_has_no_start_ahead_launches_it(string launchType)
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedCompleteLeadsAsync(api, _user, 4));
        if (launchType == "scheduled")
            body = body.With("launch_type", "scheduled").With("start_date", DateTimeOffset.UtcNow.AddDays(1).ToString("O"));
        var campaign = await CreateIdAsync(client, body);
        await SetStatusAsync(api, campaign, "paused");
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("update campaigns set start_date = now() - interval '1 minute' where campaign_id = @campaign and start_date is not null", new { campaign });

        var (status, resumed) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/resume");

        Assert.Equal(200, status);
        Assert.Equal("launching", (string?)resumed["status"]);
        var active = await WaitForStatusAsync(client, campaign, "active");
        Assert.Equal(4, (int)active["total_leads"]!);
        Assert.Equal(["resumed paused->launching", "launched launching->active"], await EventLinesAsync(client, campaign));
    }

    [Fact]
    public async Task A_forbidden_action_answers_a_409_problem_naming_the_status()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 1)));

        var response = await client.PostAsync($"/api/v1/campaigns/{campaign}/pause", null, TestContext.Current.CancellationToken);

        Assert.Equal(409, (int)response.StatusCode);
        await Snapshot.MatchAsync(response, "pause-draft");
    }

    [Fact]
    public async Task A_stale_if_match_answers_412_and_changes_nothing()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 1)));
        await SetStatusAsync(api, campaign, "active", launched: true);

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/campaigns/{campaign}/pause");
        request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(412, (int)response.StatusCode);
        Assert.Equal("active", (string?)(await GetAsync(client, campaign))["status"]);
    }

    [Theory]
    [InlineData("pause")]
    [InlineData("resume")]
    [InlineData("cancel")]
    public async Task Another_users_campaign_answers_404(string action)
    {
        var campaign = await CreateIdAsync(api.ClientFor(_user), Email(await SeedCompleteLeadsAsync(api, _user, 1)));
        await SetStatusAsync(api, campaign, "paused", launched: true);

        var (status, _) = await SendAsync(api.ClientFor(), HttpMethod.Post, $"/api/v1/campaigns/{campaign}/{action}");

        Assert.Equal(404, status);
        Assert.Equal("paused", (string?)(await GetAsync(api.ClientFor(_user), campaign))["status"]);
    }

    private async Task<int> TriggersAsync(Guid campaign)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<int>("select count(*) from quartz.qrtz_triggers where trigger_name = @name", new { name = $"launch-{campaign}" });
    }
}
