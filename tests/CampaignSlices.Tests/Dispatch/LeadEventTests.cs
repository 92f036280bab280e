using System.Text.Json.Nodes;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>POST /dispatch/lead-events: what happened to a lead after its actions, and what that does.</summary>
public sealed class LeadEventTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static readonly DateTimeOffset Occurred = new(2026, 3, 2, 10, 15, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_reply_between_steps_stops_the_lead_when_stop_on_reply_is_on()
    {
        var (worker, _, campaignId, user) = await SentAsync();

        var (status, answer) = await EventAsync(worker, ByRow(campaignId, 1, "replied"));

        Assert.Equal((200, "stopped"), (status, (string)answer["lead_status"]!));
        var lead = (await LeadsAsync(api, campaignId))[1];
        Assert.Equal(("stopped", "replied", (DateTimeOffset?)null), (lead.Status, lead.StopReason, lead.NextActionAt));
        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Equal(1, (int)campaign["processed_leads"]!);
    }

    [Fact]
    public async Task A_reply_leaves_the_lead_in_its_sequence_when_stop_on_reply_is_off()
    {
        var (worker, _, campaignId, user) = await SentAsync(body => body.With("stop_on_reply", false));

        var (status, answer) = await EventAsync(worker, ByRow(campaignId, 1, "replied"));

        Assert.Equal((200, "active"), (status, (string)answer["lead_status"]!));
        Assert.Equal(("active", 2), ((await LeadsAsync(api, campaignId))[1].Status, (await LeadsAsync(api, campaignId))[1].CurrentStep));
        Assert.Equal(0, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Fact]
    public async Task A_reply_to_a_linkedin_message_always_stops_the_lead_addressed_by_its_action()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var body = Linkedin(await SeedCompleteLeadsAsync(api, userId, 1)).AlwaysOpen(api.Clock)
            .With("stop_on_reply", false)
            .With("steps_config[0].action_type", "message").With("steps_config[0].message_template", "Hello {{first_name}}");
        var campaignId = await LaunchAsync(api, user, userId, body);
        var worker = api.WorkerClient();
        var lease = Assert.Single(await LeaseAsync(worker, "linkedin"));
        Assert.Equal(200, (await ReportAsync(worker, lease)).Status);

        var (status, answer) = await EventAsync(worker, ByAction(lease, "replied"));

        Assert.Equal((200, "stopped"), (status, (string)answer["lead_status"]!));
        Assert.Equal("replied", (await LeadsAsync(api, campaignId))[1].StopReason);
        await using var db = await api.OpenDatabaseAsync();
        var recorded = await db.QuerySingleAsync<(int RowNumber, Guid? ActionId, int? Step)>(
            "select row_number, action_id, step from lead_events where campaign_id = @campaignId", new { campaignId });
        Assert.Equal((1, (Guid?)Guid.Parse((string)lease["action_id"]!), (int?)1), recorded);
    }

    [Fact]
    public async Task A_reply_closes_a_given_back_action_and_nothing_is_offered_again()
    {
        var (worker, lease, campaignId, _) = await LeasedAsync();
        Assert.Equal(200, (await ReleaseAsync(worker, lease)).Status);

        Assert.Equal(200, (await EventAsync(worker, ByRow(campaignId, 1, "replied"))).Status);

        Assert.Equal("cancelled", (await ActionAsync(api, lease)).State);
        Assert.Empty(await LeaseAsync(worker));
    }

    [Fact]
    public async Task A_reply_leaves_a_held_lease_whose_late_outcome_is_recorded_and_changes_nothing_further()
    {
        var (worker, lease, campaignId, user) = await LeasedAsync();

        Assert.Equal("stopped", (string)(await EventAsync(worker, ByRow(campaignId, 1, "replied"))).Body["lead_status"]!);
        Assert.Equal("leased", (await ActionAsync(api, lease)).State);
        var (status, answer) = await ReportAsync(worker, lease);

        Assert.Equal((200, "stopped"), (status, (string)answer["lead_status"]!));
        Assert.Null(answer["next_action_at"]);
        Assert.Equal(("closed", "sent"), ((await ActionAsync(api, lease)).State, (await ActionAsync(api, lease)).Outcome));
        var lead = (await LeadsAsync(api, campaignId))[1];
        Assert.Equal(("stopped", 1), (lead.Status, lead.CurrentStep));
        Assert.Equal(1, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Fact]
    public async Task A_bounce_fails_the_lead()
    {
        var (worker, _, campaignId, user) = await SentAsync();

        var (status, answer) = await EventAsync(worker, ByRow(campaignId, 1, "bounced"));

        Assert.Equal((200, "failed"), (status, (string)answer["lead_status"]!));
        Assert.Equal("failed", (await LeadsAsync(api, campaignId))[1].Status);
        Assert.Equal(1, (int)(await WaitForStatusAsync(user, campaignId, "completed"))["processed_leads"]!);
    }

    [Fact]
    public async Task An_unsubscribe_reaches_every_campaign_of_the_user_and_blocks_the_email_at_later_launches_but_not_another_users()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var first = await LaunchAsync(api, user, userId, Email(await SeedLeadsAsync(api, userId,
            [new Lead(1, "ada@example.com", "Ada"), new Lead(2, "bob@example.com", "Bob")])).AlwaysOpen(api.Clock));
        // The same address, spelled with other case and spaces, on another row of another campaign.
        var second = await LaunchAsync(api, user, userId, Email(await SeedLeadsAsync(api, userId,
            [new Lead(1, "carl@example.com", "Carl"), new Lead(2, "  ADA@Example.com ", "Ada")])).AlwaysOpen(api.Clock));
        var otherUserId = Guid.NewGuid();
        var otherUser = api.ClientFor(otherUserId);
        var otherDataset = await SeedLeadsAsync(api, otherUserId, [new Lead(1, "ada@example.com", "Ada")]);
        var theirs = await LaunchAsync(api, otherUser, otherUserId, Email(otherDataset).AlwaysOpen(api.Clock));
        var worker = api.WorkerClient();

        var (status, answer) = await EventAsync(worker, ByRow(first, 1, "unsubscribed"));

        Assert.Equal((200, "stopped"), (status, (string)answer["lead_status"]!));
        Assert.Equal(("stopped", "unsubscribed"), ((await LeadsAsync(api, first))[1].Status, (await LeadsAsync(api, first))[1].StopReason));
        var reached = await LeadsAsync(api, second);
        Assert.Equal(("stopped", "unsubscribed", "pending"), (reached[2].Status, reached[2].StopReason, reached[1].Status));
        Assert.Equal(1, (int)(await GetAsync(user, second))["processed_leads"]!);
        Assert.Equal("pending", (await LeadsAsync(api, theirs))[1].Status);

        // A third campaign of the user: preflight flags the address, blocking, and the launch leaves its row out.
        var third = await CreateIdAsync(user, Email(await SeedLeadsAsync(api, userId,
            [new Lead(1, "dan@example.com", "Dan"), new Lead(2, "Ada@example.com", "Ada")])).AlwaysOpen(api.Clock));
        var (_, preflight) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{third}/preflight");
        var warning = Assert.Single(preflight["warnings"]!.AsArray())!;
        Assert.Equal((2, "unsubscribed", "email"), ((int)warning["row_number"]!, (string)warning["code"]!, (string)warning["field"]!));
        Assert.Equal(1, (int)preflight["summary"]!["launchable_rows"]!);
        Assert.Equal(202, (await SendAsync(user, HttpMethod.Post, $"/api/v1/campaigns/{third}/launch")).Status);
        Assert.Equal(1, (int)(await WaitForStatusAsync(user, third, "active"))["total_leads"]!);
        Assert.Equal([1], (await LeadsAsync(api, third)).Keys);
        // Another user's preflight of the same address finds nothing.
        var (_, theirPreflight) = await SendAsync(otherUser, HttpMethod.Get,
            $"/api/v1/campaigns/{await CreateIdAsync(otherUser, Email(otherDataset))}/preflight");
        Assert.Empty(theirPreflight["warnings"]!.AsArray());
    }

    [Fact]
    public async Task Opens_clicks_and_accepts_are_counted_in_the_stats_and_change_nothing()
    {
        var (worker, _, campaignId, user) = await SentAsync();

        foreach (var (type, minutes) in new[] { ("opened", 0), ("clicked", 1), ("clicked", 2), ("accepted", 3) })
            Assert.Equal("active", (string)(await EventAsync(worker, ByRow(campaignId, 1, type, Occurred.AddMinutes(minutes)))).Body["lead_status"]!);

        var (_, stats) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");
        Assert.Equal(["1 - accepted 1", "1 - clicked 2", "1 - opened 1"],
            stats["events"]!.AsArray().Select(e => $"{e!["step"]} {(string?)e["variant"] ?? "-"} {e["type"]} {e["count"]}"));
        Assert.Equal(("active", 2), ((await LeadsAsync(api, campaignId))[1].Status, (await LeadsAsync(api, campaignId))[1].CurrentStep));
    }

    [Fact]
    public async Task The_same_event_again_changes_nothing_more_and_answers_the_same()
    {
        var (worker, lease, campaignId, user) = await SentAsync();
        var first = await EventAsync(worker, ByRow(campaignId, 1, "replied"));

        var again = await EventAsync(worker, ByAction(lease, "replied").With("detail", "the same reply, reported by another path"));

        Assert.Equal((first.Status, first.Body.ToJsonString()), (again.Status, again.Body.ToJsonString()));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from lead_events where campaign_id = @campaignId", new { campaignId }));
        Assert.Equal(1, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Fact]
    public async Task An_event_without_occurred_at_happened_when_it_was_recorded()
    {
        var (worker, _, campaignId, _) = await SentAsync();
        var before = api.Clock.GetUtcNow();

        var (status, answer) = await EventAsync(worker, new JsonObject { ["campaign_id"] = campaignId, ["row_number"] = 1, ["type"] = "opened" });

        Assert.True(status == 200, answer.ToJsonString());
        await using var db = await api.OpenDatabaseAsync();
        var occurred = await db.QuerySingleAsync<DateTimeOffset>("select occurred_at from lead_events where campaign_id = @campaignId", new { campaignId });
        Assert.InRange(occurred, before.AddMilliseconds(-1), api.Clock.GetUtcNow().AddMilliseconds(1));
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{"type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "action_id" },
        { """{"campaign_id":"{campaign}","row_number":1,"action_id":"{campaign}","type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "action_id" },
        { """{"row_number":1,"type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "campaign_id" },
        { """{"campaign_id":"{campaign}","type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "row_number" },
        { """{"campaign_id":"{campaign}","row_number":0,"type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "row_number" },
        { """{"campaign_id":"{campaign}","row_number":"one","type":"replied","occurred_at":"2026-03-02T10:15:00Z"}""", "row_number" },
        { """{"campaign_id":"{campaign}","row_number":1,"type":"forwarded","occurred_at":"2026-03-02T10:15:00Z"}""", "type" },
        { """{"campaign_id":"{campaign}","row_number":1,"occurred_at":"2026-03-02T10:15:00Z"}""", "type" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_400_naming_the_field_and_writes_nothing(string body, string field)
    {
        var (worker, _, campaignId, _) = await SentAsync();

        var (status, problem) = await EventAsync(worker, JsonNode.Parse(body.Replace("{campaign}", campaignId.ToString()))!.AsObject());

        Assert.Equal(400, status);
        Assert.Equal([field], ErrorKeys(problem));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("select count(*) from lead_events where campaign_id = @campaignId", new { campaignId }));
        Assert.Equal("active", (await LeadsAsync(api, campaignId))[1].Status);
    }

    [Fact]
    public async Task An_unknown_campaign_lead_or_action_is_404()
    {
        var (worker, _, campaignId, _) = await SentAsync();

        Assert.Equal(404, (await EventAsync(worker, ByRow(Guid.NewGuid(), 1, "replied"))).Status);
        Assert.Equal(404, (await EventAsync(worker, ByRow(campaignId, 2, "replied"))).Status);
        var (status, problem) = await EventAsync(worker, new JsonObject
        {
            ["action_id"] = Guid.NewGuid(), ["type"] = "replied", ["occurred_at"] = Occurred.ToString("O"),
        });
        Assert.Equal(404, status);
        Assert.Contains("Action", (string)problem["detail"]!);
    }

    [Fact]
    public async Task A_user_token_is_403()
    {
        var (_, _, campaignId, user) = await SentAsync();

        Assert.Equal(403, (await EventAsync(user, ByRow(campaignId, 1, "replied"))).Status);
        Assert.Equal("active", (await LeadsAsync(api, campaignId))[1].Status);
    }

    private static JsonObject ByRow(Guid campaignId, int row, string type, DateTimeOffset? occurredAt = null) => new()
    {
        ["campaign_id"] = campaignId, ["row_number"] = row, ["type"] = type, ["occurred_at"] = (occurredAt ?? Occurred).ToString("O"),
    };

    private static JsonObject ByAction(JsonObject lease, string type) => new()
    {
        ["action_id"] = (string)lease["action_id"]!, ["type"] = type, ["occurred_at"] = Occurred.ToString("O"),
    };

    private static Task<(int Status, JsonObject Body)> EventAsync(HttpClient client, JsonObject body) =>
        SendAsync(client, HttpMethod.Post, "/api/v1/dispatch/lead-events", body);

    /// <summary>A one-lead email campaign (two steps, two days apart) whose step 1 is leased.</summary>
    private async Task<(HttpClient Worker, JsonObject Lease, Guid CampaignId, HttpClient User)> LeasedAsync(Func<JsonObject, JsonObject>? shape = null)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var body = Email(await SeedCompleteLeadsAsync(api, userId, 1)).AlwaysOpen(api.Clock);
        var campaignId = await LaunchAsync(api, user, userId, shape is null ? body : shape(body));
        var worker = api.WorkerClient();
        return (worker, Assert.Single(await LeaseAsync(worker)), campaignId, user);
    }

    /// <summary>The same, step 1 sent: the lead waits for step 2.</summary>
    private async Task<(HttpClient Worker, JsonObject Lease, Guid CampaignId, HttpClient User)> SentAsync(Func<JsonObject, JsonObject>? shape = null)
    {
        var leased = await LeasedAsync(shape);
        Assert.Equal(200, (await ReportAsync(leased.Worker, leased.Lease)).Status);
        return leased;
    }
}
