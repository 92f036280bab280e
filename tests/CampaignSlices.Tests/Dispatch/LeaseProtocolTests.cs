using System.Text.Json.Nodes;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>What a lease hands a worker, what a lease request may ask for, and keeping or giving back a lease.</summary>
public sealed class LeaseProtocolTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    private static readonly TimeSpan PastPacing = TimeSpan.FromSeconds(61);

    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_lease_carries_every_field_a_worker_needs()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedLeadsAsync(api, userId,
            [new Lead(1, "ada@example.com", "Ada", "https://www.linkedin.com/in/ada/", "+14155550101", """{"timezone":"Europe/Berlin","industry":"saas"}""")],
            "timezone", "industry");
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("update dataset_rows set last_name = 'Lovelace', company = 'Analytical' where dataset_id = @datasetId", new { datasetId });
        var templateId = Guid.NewGuid();
        var senderProfileId = Guid.NewGuid();
        var systemPrompt = string.Concat(Enumerable.Repeat("Write as a helpful, brief and friendly account manager. ", 3));
        var body = Email(datasetId).AlwaysOpen(api.Clock)
            .With("alias_ids", new JsonArray("alias-ada"))
            .With("open_tracking", true)
            .With("signature", "Best, %sender_first_name%")
            .With("system_prompt", systemPrompt)
            .With("webhook_config", new JsonObject { ["url"] = "https://hooks.example.com/campaigns", ["metadata"] = new JsonObject { ["team"] = "growth" } })
            .With("steps_config[0].ai_personalization_enabled", true)
            .With("steps_config[0].track_clicks", true)
            .With("steps_config[0].variants", new JsonArray(new JsonObject
            {
                ["label"] = "only", ["weight"] = 100, ["type"] = "template", ["template_id"] = templateId, ["sender_profile_id"] = senderProfileId,
            }));
        var campaignId = await LaunchAsync(api, user, userId, body);

        var before = api.Clock.GetUtcNow();
        var lease = Assert.Single(await LeaseAsync(api.WorkerClient(), leaseSeconds: 120));
        var after = api.Clock.GetUtcNow();

        Assert.Equal(
            ["action_id", "lease_token", "lease_expires_at", "campaign_id", "user_id", "row_number", "step", "attempt", "channel", "action_type",
                "message_template", "variant", "sender", "lead", "settings"],
            lease.Select(p => p.Key).ToArray());
        Assert.True(Guid.TryParse((string)lease["action_id"]!, out _));
        Assert.True(Guid.TryParse((string)lease["lease_token"]!, out _));
        var expires = lease["lease_expires_at"].At();
        Assert.InRange(expires, before.AddSeconds(120).AddSeconds(-1), after.AddSeconds(120).AddSeconds(1));
        Assert.Equal(campaignId.ToString(), (string)lease["campaign_id"]!);
        Assert.Equal(userId.ToString(), (string)lease["user_id"]!);
        Assert.Equal(1, (int)lease["row_number"]!);
        Assert.Equal(1, (int)lease["step"]!);
        Assert.Equal(1, (int)lease["attempt"]!);
        Assert.Equal("email", (string)lease["channel"]!);
        Assert.Null(lease["action_type"]);
        Assert.Equal("Hi {{first_name}}", (string)lease["message_template"]!);
        Assert.True(JsonNode.DeepEquals(new JsonObject
        {
            ["label"] = "only", ["type"] = "template", ["template_id"] = templateId.ToString(), ["sender_profile_id"] = senderProfileId.ToString(),
        }, lease["variant"]), lease["variant"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["alias_id"] = "alias-ada" }, lease["sender"]), lease["sender"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(new JsonObject
        {
            ["email"] = "ada@example.com", ["first_name"] = "Ada", ["last_name"] = "Lovelace", ["company"] = "Analytical",
            ["linkedin_url"] = "https://www.linkedin.com/in/ada/", ["phone"] = "+14155550101", ["timezone"] = "Europe/Berlin",
            ["attributes"] = new JsonObject { ["timezone"] = "Europe/Berlin", ["industry"] = "saas" },
        }, lease["lead"]), lease["lead"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(new JsonObject
        {
            ["ai_personalization_enabled"] = true, ["track_clicks"] = true, ["open_tracking"] = true, ["signature"] = "Best, %sender_first_name%",
            ["system_prompt"] = systemPrompt, ["app_id"] = null, ["app_version"] = null, ["app_type"] = null,
            ["webhook_config"] = new JsonObject { ["url"] = "https://hooks.example.com/campaigns", ["metadata"] = new JsonObject { ["team"] = "growth" } },
        }, lease["settings"]), lease["settings"]!.ToJsonString());
        var stored = await LeadAsync(api, campaignId, 1);
        Assert.Equal(("active", Guid.Parse((string)lease["action_id"]!)), (stored.Status, stored.OpenActionId));
    }

    [Fact]
    public async Task A_step_without_variants_leases_a_null_variant()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock));

        var lease = Assert.Single(await LeaseAsync(api.WorkerClient()));

        Assert.True(lease.ContainsKey("variant"));
        Assert.Null(lease["variant"]);
    }

    [Fact]
    public async Task A_drawn_variant_is_one_of_the_steps_and_is_kept_when_the_action_is_offered_again()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 6);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(6)).With("steps_config[1].delay_days", 0)
            .With("steps_config[1].delay_minutes", 1);
        var templateA = body["steps_config"]![1]!["variants"]![0]!["template_id"]!.GetValue<Guid>();
        await LaunchAsync(api, user, userId, body);
        var worker = api.WorkerClient();
        foreach (var first in await LeaseAsync(worker))
            Assert.Equal(200, (await ReportAsync(worker, first)).Status);

        api.Clock.Advance(PastPacing);
        var second = await LeaseAsync(worker);

        Assert.Equal(6, second.Count);
        foreach (var lease in second)
        {
            Assert.Equal(2, (int)lease["step"]!);
            var variant = lease["variant"]!;
            switch ((string)variant["label"]!)
            {
                case "A":
                    Assert.Equal(("template", templateA.ToString()), ((string)variant["type"]!, (string?)variant["template_id"]));
                    break;
                case "B":
                    Assert.Equal(("ai", null), ((string)variant["type"]!, (string?)variant["template_id"]));
                    break;
                default:
                    Assert.Fail($"a variant the step does not have: {variant.ToJsonString()}");
                    break;
            }
            Assert.Equal(200, (await ReleaseAsync(worker, lease)).Status);
        }

        api.Clock.Advance(PastPacing);
        var again = await LeaseAsync(worker);
        Assert.Equal(second.ToDictionary(l => (string)l["action_id"]!, l => (string)l["variant"]!["label"]!),
            again.ToDictionary(l => (string)l["action_id"]!, l => (string)l["variant"]!["label"]!));
    }

    [Fact]
    public async Task A_linkedin_campaign_leases_on_the_linkedin_channel_with_its_account_as_sender()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var body = Linkedin(datasetId).AlwaysOpen(api.Clock);
        var campaignId = await LaunchAsync(api, user, userId, body);
        var worker = api.WorkerClient();

        Assert.Empty(await LeaseAsync(worker, "email"));
        var lease = Assert.Single(await LeaseAsync(worker, "linkedin"));

        Assert.Equal(campaignId.ToString(), (string)lease["campaign_id"]!);
        Assert.Equal("linkedin", (string)lease["channel"]!);
        Assert.Equal("connection_request", (string)lease["action_type"]!);
        Assert.Null(lease["variant"]);
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["connected_account_id"] = body["connected_account_id"]!.GetValue<Guid>().ToString() }, lease["sender"]),
            lease["sender"]!.ToJsonString());
    }

    [Theory]
    [InlineData("""{"channel": "email", "max": 0}""", "max")]
    [InlineData("""{"channel": "email", "max": 501}""", "max")]
    [InlineData("""{"channel": "email", "lease_seconds": 9}""", "lease_seconds")]
    [InlineData("""{"channel": "email", "lease_seconds": 3601}""", "lease_seconds")]
    [InlineData("""{"channel": "email", "wait_seconds": 21}""", "wait_seconds")]
    [InlineData("""{"channel": "email", "wait_seconds": -1}""", "wait_seconds")]
    [InlineData("""{"max": 10}""", "channel")]
    [InlineData("""{"channel": "fax"}""", "channel")]
    [InlineData("""{"channel": "email", "colour": "red"}""", "colour")]
    public async Task An_invalid_lease_request_is_400_naming_the_field(string request, string field)
    {
        var (status, problem) = await SendAsync(api.WorkerClient(), HttpMethod.Post, "/api/v1/dispatch/leases", JsonNode.Parse(request));

        Assert.Equal(400, status);
        Assert.Equal([field], ErrorKeys(problem));
        Assert.Contains(field, (string)problem["detail"]! + string.Concat(problem["errors"]![field]!.AsArray().Select(m => (string)m!)));
    }

    [Theory]
    [InlineData("""{"channel": "email", "max": 1, "lease_seconds": 10, "wait_seconds": 0}""")]
    [InlineData("""{"channel": "email", "max": 500, "lease_seconds": 3600, "wait_seconds": 20}""")]
    [InlineData("""{"channel": "linkedin"}""")]
    public async Task A_lease_request_at_the_edges_of_its_ranges_is_accepted(string request)
    {
        // Something is due, so the longest wait answers at once.
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock));
        await LaunchAsync(api, user, userId, Linkedin(datasetId).AlwaysOpen(api.Clock));

        var (status, answer) = await SendAsync(api.WorkerClient(), HttpMethod.Post, "/api/v1/dispatch/leases", JsonNode.Parse(request));

        Assert.True(status == 200, answer.ToJsonString());
        Assert.Single(answer["items"]!.AsArray());
    }

    [Theory]
    [InlineData("heartbeat")]
    [InlineData("release")]
    [InlineData("outcome")]
    public async Task An_unknown_action_is_404_and_a_malformed_action_id_400(string verb)
    {
        var worker = api.WorkerClient();
        var body = new JsonObject { ["lease_token"] = Guid.NewGuid().ToString(), ["outcome"] = verb == "outcome" ? "sent" : null };
        if (verb != "outcome")
            body.Remove("outcome");
        var unknown = Guid.NewGuid();

        var (missing, notFound) = await SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{unknown}/{verb}", body);
        var (malformed, invalid) = await SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/not-a-uuid/{verb}", body);

        Assert.Equal(404, missing);
        Assert.Contains(unknown.ToString(), (string)notFound["detail"]!);
        Assert.Equal(400, malformed);
        Assert.Equal(["action_id"], ErrorKeys(invalid));
    }

    [Fact]
    public async Task A_heartbeat_or_release_after_the_lease_ended_is_409()
    {
        var (worker, lease, _) = await LeasedAsync(leaseSeconds: 10);
        api.Clock.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal(409, (await HeartbeatAsync(worker, lease)).Status);
        Assert.Equal(409, (await ReleaseAsync(worker, lease)).Status);
        Assert.Equal("leased", (await ActionAsync(api, lease)).State);
    }

    [Theory]
    [InlineData("heartbeat", """{"lease_seconds": 9}""", "lease_seconds")]
    [InlineData("heartbeat", """{"lease_seconds": 3601}""", "lease_seconds")]
    [InlineData("heartbeat", "{}", "lease_token")]
    [InlineData("release", """{"delay_seconds": -1}""", "delay_seconds")]
    [InlineData("release", """{"delay_seconds": 86401}""", "delay_seconds")]
    [InlineData("release", "{}", "lease_token")]
    [InlineData("outcome", """{"outcome": "delivered"}""", "outcome")]
    [InlineData("outcome", """{"outcome": "sent", "duration_seconds": -1}""", "duration_seconds")]
    [InlineData("outcome", """{"outcome": "sent", "colour": "red"}""", "colour")]
    public async Task An_invalid_heartbeat_release_or_outcome_is_400_naming_the_field_and_changes_nothing(string verb, string request, string field)
    {
        var (worker, lease, campaignId) = await LeasedAsync();
        var body = JsonNode.Parse(request)!.AsObject();
        if (field != "lease_token")
            body["lease_token"] = (string)lease["lease_token"]!;
        var leadBefore = await LeadAsync(api, campaignId, 1);

        var (status, problem) = await SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{lease["action_id"]}/{verb}", body);

        Assert.Equal(400, status);
        Assert.Equal([field], ErrorKeys(problem));
        Assert.Equal(leadBefore, await LeadAsync(api, campaignId, 1));
        Assert.Equal("leased", (await ActionAsync(api, lease)).State);
    }

    [Fact]
    public async Task A_release_whose_delay_ends_outside_the_schedule_is_due_at_its_next_opening()
    {
        var opensAt = api.Clock.GetUtcNow();
        var nextOpening = new DateTimeOffset(opensAt.Year, opensAt.Month, opensAt.Day, opensAt.Hour, opensAt.Minute, 0, TimeSpan.Zero).AddHours(-2).AddDays(1);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var campaignId = await LaunchAsync(api, user, userId, Email(datasetId)
            .With("send_days", new JsonArray("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
            .With("sending_window_start", opensAt.AddHours(-2).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture))
            .With("sending_window_end", opensAt.AddHours(6).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture))
            .With("min_interval_seconds", 60));
        var worker = api.WorkerClient();
        var lease = Assert.Single(await LeaseAsync(worker));

        // Ten hours on is past the window's end (six hours on) and before the next day's opening.
        var (status, released) = await ReleaseAsync(worker, lease, delaySeconds: 10 * 3600);

        Assert.Equal(200, status);
        Assert.Equal(nextOpening, released["next_action_at"].At());
        Assert.Equal(nextOpening, (await LeadAsync(api, campaignId, 1)).NextActionAt);
    }

    [Fact]
    public async Task A_heartbeat_extends_the_lease_and_the_action_is_not_offered_again_after_the_first_expiry()
    {
        var (worker, lease, _) = await LeasedAsync(leaseSeconds: 10);

        var before = api.Clock.GetUtcNow();
        var (status, extended) = await HeartbeatAsync(worker, lease, leaseSeconds: 600);
        var after = api.Clock.GetUtcNow();

        Assert.Equal(200, status);
        Assert.Equal((string)lease["action_id"]!, (string)extended["action_id"]!);
        Assert.InRange(extended["lease_expires_at"].At(), before.AddSeconds(599), after.AddSeconds(601));
        api.Clock.Advance(PastPacing);
        Assert.Empty(await LeaseAsync(api.WorkerClient("worker-2")));
        Assert.Equal(200, (await ReportAsync(worker, lease)).Status);
    }

    [Fact]
    public async Task A_released_action_is_due_again_after_its_delay_as_the_same_attempt_and_a_second_release_is_409()
    {
        var (worker, lease, campaignId) = await LeasedAsync();

        var before = api.Clock.GetUtcNow();
        var (status, released) = await ReleaseAsync(worker, lease, delaySeconds: 120);
        var after = api.Clock.GetUtcNow();

        Assert.Equal(200, status);
        Assert.InRange(released["next_action_at"].At(), before.AddSeconds(119), after.AddSeconds(121));
        var (twice, problem) = await ReleaseAsync(worker, lease, delaySeconds: 120);
        Assert.Equal(409, twice);
        Assert.Equal(409, (int)problem["status"]!);
        Assert.Equal("released", (await ActionAsync(api, lease)).State);
        Assert.Empty(await LeaseAsync(worker));

        api.Clock.Advance(TimeSpan.FromSeconds(121));
        var again = Assert.Single(await LeaseAsync(api.WorkerClient("worker-2")));
        Assert.Equal((string)lease["action_id"]!, (string)again["action_id"]!);
        Assert.Equal(((int)lease["step"]!, (int)lease["attempt"]!), ((int)again["step"]!, (int)again["attempt"]!));
        Assert.NotEqual((string)lease["lease_token"]!, (string)again["lease_token"]!);
        Assert.Equal(1, (await LeadAsync(api, campaignId, 1)).Attempt);
        Assert.Equal(2, (await ActionAsync(api, again)).TimesLeased);
    }

    [Theory]
    [InlineData(1, 40)]
    [InlineData(4, 10)]
    public async Task Concurrent_leases_never_hand_out_the_same_action_or_overspend_a_senders_pacing(int campaignCount, int leadsEach)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        for (var c = 0; c < campaignCount; c++)
        {
            var datasetId = await SeedCompleteLeadsAsync(api, userId, leadsEach);
            await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(leadsEach)));
        }

        var rounds = await Task.WhenAll(Enumerable.Range(1, 8).Select(w => LeaseAsync(api.WorkerClient($"worker-{w}"), max: 10)));
        var concurrent = rounds.SelectMany(round => round).ToList();
        var drained = new List<JsonObject>();
        for (var round = 0; round < 20 && concurrent.Count + drained.Count < 40; round++)
            drained.AddRange(await LeaseAsync(api.WorkerClient("drainer"), max: 10));
        var all = concurrent.Concat(drained).ToList();

        // Some claim among them leases: the one holding a campaign's pacing row also gets its senders (split between two, neither leased).
        Assert.NotEmpty(concurrent);
        Assert.Equal(all.Count, all.Select(l => (string)l["action_id"]!).Distinct().Count());
        Assert.Equal(40, all.Select(l => ((string)l["campaign_id"]!, (int)l["row_number"]!)).Distinct().Count());
        // min_interval_seconds 60: within the minute each alias of a campaign sends once.
        Assert.Equal(40, all.Select(l => ((string)l["campaign_id"]!, (string)l["sender"]!["alias_id"]!)).Distinct().Count());
        Assert.Empty(await LeaseAsync(api.WorkerClient("drainer")));
    }

    [Fact]
    public async Task A_lease_retried_with_its_idempotency_key_replays_the_same_leases_and_leases_nothing_more()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 4);
        await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(4)));
        var worker = api.WorkerClient();

        var (firstStatus, first, _) = await LeaseWithKeyAsync(worker, "lease-1");
        var (retryStatus, retry, replayed) = await LeaseWithKeyAsync(worker, "lease-1");

        Assert.True(firstStatus == 200, first);
        Assert.Equal(2, JsonNode.Parse(first)!["items"]!.AsArray().Count);
        Assert.Equal(200, retryStatus);
        Assert.True(replayed);
        Assert.Equal(first, retry);
        // Another worker's key of the same spelling is its own.
        var (otherStatus, other, otherReplayed) = await LeaseWithKeyAsync(api.WorkerClient("worker-2"), "lease-1");
        Assert.Equal(200, otherStatus);
        Assert.False(otherReplayed);
        Assert.Equal(2, JsonNode.Parse(other)!["items"]!.AsArray().Count);
        Assert.Empty(await LeaseAsync(worker));
    }

    private static async Task<(int Status, string Body, bool Replayed)> LeaseWithKeyAsync(HttpClient worker, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/dispatch/leases")
        {
            Content = new StringContent("""{"channel": "email", "max": 2}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", key);
        var response = await worker.SendAsync(request, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken),
            response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Single() == "true");
    }

    private async Task<(HttpClient Worker, JsonObject Lease, Guid CampaignId)> LeasedAsync(int? leaseSeconds = null)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var campaignId = await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock));
        var worker = api.WorkerClient();
        return (worker, Assert.Single(await LeaseAsync(worker, leaseSeconds: leaseSeconds)), campaignId);
    }
}
