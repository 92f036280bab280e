using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.ScheduledFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// The unreviewed-launch policy (docs/preflight-and-launch.md). Most cases run what the trigger runs
/// (<see cref="StartScheduledLaunch.Handler"/>) at once instead of waiting for start_date; two let a real trigger fire.
/// </summary>
public sealed class PolicyTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    // Never sent (private networks are refused here, localhost among them): the outbox row is what these tests look at, WebhookTests covers delivery.
    private static readonly JsonObject Webhook = new() { ["url"] = "http://localhost:9/hook", ["metadata"] = new JsonObject { ["crm"] = "42" } };

    [Fact]
    public async Task Launch_default_launches_an_unreviewed_campaign()
    {
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "launch_default"));

        await FireAsync(id);

        var campaign = await WaitForStatusAsync(client, id, "active");
        Assert.Null(campaign["personalization_reviewed_at"]);
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "launch_started", "launched"], EventTypes(events));
        Assert.Equal("launch_default", (string?)events[1]["details"]!["policy"]);
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task Hold_pauses_an_unreviewed_campaign_pending_review_and_notifies()
    {
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "hold").With("webhook_config", Webhook));

        await FireAsync(id);

        var (_, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}");
        Assert.Equal(("paused", "pending_personalization_review"), ((string?)campaign["status"], (string?)campaign["paused_reason"]));
        Assert.Null(campaign["launched_at"]);
        Assert.Null(campaign["launch_job_id"]);
        var (_, events) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}/events");
        Snapshot.Match(events.ToJsonString(), "hold-events");
        Assert.Equal(("campaign.held_for_review", "paused", "pending_personalization_review"), await NotificationAsync(id));
        Assert.Equal(0, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task Cancel_returns_an_unreviewed_campaign_to_draft_and_notifies()
    {
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "cancel").With("webhook_config", Webhook));

        await FireAsync(id);

        var (_, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}");
        Assert.Equal("draft", (string?)campaign["status"]);
        Assert.Null(campaign["paused_reason"]);
        Assert.Null(campaign["launch_requested_at"]);
        Assert.Null(campaign["launch_job_id"]);
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "launch_cancelled_unreviewed"], EventTypes(events));
        Assert.Equal(("scheduled", "draft", "system"), ((string?)events[1]["from_status"], (string?)events[1]["to_status"], (string?)events[1]["actor"]));
        Assert.Equal("cancel", (string?)events[1]["details"]!["policy"]);
        Assert.Equal(("campaign.launch_cancelled_unreviewed", "draft", "personalization_not_reviewed"), await NotificationAsync(id));
        Assert.Equal(0, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task A_step_with_ai_personalization_and_no_ai_variant_needs_review_too()
    {
        var (client, id) = await ScheduledAsync(body => WithoutAiVariant(body)
            .With("steps_config[0].ai_personalization_enabled", true)
            .With("unreviewed_launch_policy", "hold"));

        await FireAsync(id);

        Assert.Equal(["scheduled", "held_for_review"], EventTypes(await EventsAsync(client, id)));
    }

    [Theory]
    [InlineData("reviewed", "hold")]
    [InlineData("reviewed", "cancel")]
    [InlineData("no_ai", "hold")]
    [InlineData("no_ai", "cancel")]
    public async Task A_campaign_that_needs_no_review_launches_whatever_the_policy(string why, string policy)
    {
        var (client, id) = await ScheduledAsync(body =>
        {
            body = body.With("unreviewed_launch_policy", policy);
            return why == "reviewed"
                ? body.With("personalization_reviewed_at", DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))
                : WithoutAiVariant(body);
        });

        await FireAsync(id);

        await WaitForStatusAsync(client, id, "active");
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "launch_started", "launched"], EventTypes(events));
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task A_trigger_that_fires_twice_launches_once()
    {
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "hold"));

        await FireAsync(id);
        await FireAsync(id);

        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "held_for_review"], EventTypes(events));
    }

    [Fact]
    public async Task A_real_trigger_holds_and_resuming_the_hold_launches_as_it_stands()
    {
        var start = StartIn(TimeSpan.FromSeconds(3));
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "hold"), start);

        var held = await WaitForStatusAsync(client, id, "paused");

        Assert.Equal("pending_personalization_review", (string?)held["paused_reason"]);
        await WaitForNoTriggerAsync(api, id);
        var (status, resumed) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/resume");
        Assert.Equal(200, status);
        Assert.Equal("launching", (string?)resumed["status"]);
        Assert.Null(resumed["paused_reason"]);
        // Resuming a hold is the owner's review.
        Assert.NotNull(resumed["personalization_reviewed_at"]);
        await WaitForStatusAsync(client, id, "active");
        Assert.Equal(["scheduled", "held_for_review", "resumed", "launched"], EventTypes(await EventsAsync(client, id)));
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task A_real_trigger_cancels_to_a_draft_without_a_trigger_that_can_be_scheduled_again()
    {
        var start = StartIn(TimeSpan.FromSeconds(3));
        var (client, id) = await ScheduledAsync(body => body.With("unreviewed_launch_policy", "cancel"), start);

        await WaitForStatusAsync(client, id, "draft");

        await WaitForNoTriggerAsync(api, id);
        var later = StartIn(TimeSpan.FromHours(1));
        var (patched, body) = await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{id}", new JsonObject { ["start_date"] = later.ToString("O") });
        Assert.True(patched == 200, body.ToJsonString());
        var (launched, launch) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch");
        Assert.True(launched == 202, launch.ToJsonString());
        Assert.Equal("scheduled", (string?)launch["campaign"]!["status"]);
        Assert.Equal(later, (await TriggerAsync(api, id))?.NextFireTime);
    }

    /// <summary>A campaign scheduled an hour ahead unless told otherwise, so that its trigger stays out of the way of <see cref="FireAsync"/>.</summary>
    private async Task<(HttpClient Client, string Id)> ScheduledAsync(Func<JsonObject, JsonObject> edit, DateTimeOffset? start = null)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        return (client, await ScheduleAsync(api, client, user, start ?? StartIn(TimeSpan.FromHours(1)), edit));
    }

    /// <summary>The fixture's AI variant made a template one, so that no step uses AI.</summary>
    private static JsonObject WithoutAiVariant(JsonObject body) =>
        body.With("steps_config[1].variants[1].type", "template").With("steps_config[1].variants[1].template_id", Guid.NewGuid());

    /// <summary>Runs what the campaign's trigger runs when it fires, its start_date made a moment ago as if its time had come.</summary>
    private async Task FireAsync(string id)
    {
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("update campaigns set start_date = now() - interval '1 second' where campaign_id = @id", new { id = Guid.Parse(id) });
        await api.Services.GetRequiredService<StartScheduledLaunch.Handler>().HandleAsync(Guid.Parse(id), Ct);
    }

    /// <summary>The campaign's latest webhook outbox row: its event type, status and reason.</summary>
    private async Task<(string? Type, string? Status, string? Reason)> NotificationAsync(string id)
    {
        await using var db = await api.OpenDatabaseAsync();
        var payload = JsonNode.Parse(await db.QuerySingleAsync<string>(
            "select payload::text from webhook_deliveries where campaign_id = @id order by created_at desc limit 1", new { id = Guid.Parse(id) }))!;
        Assert.Equal("42", (string?)payload["data"]!["metadata"]!["crm"]);
        return ((string?)payload["type"], (string?)payload["data"]!["status"], (string?)payload["data"]!["reason"]);
    }
}
