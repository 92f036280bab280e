using System.Text.Json.Nodes;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>Closing leased actions with their outcomes, one at a time or in a batch, fenced by the lease token.</summary>
public sealed class OutcomeTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Sent_moves_the_lead_to_step_2_due_after_the_steps_delay()
    {
        var (worker, lease, campaignId, user) = await LeasedAsync(body => body.With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1));

        var before = api.Clock.GetUtcNow();
        var (status, answer) = await ReportAsync(worker, lease);
        var after = api.Clock.GetUtcNow();

        Assert.Equal(200, status);
        Assert.Equal(((string)lease["action_id"]!, "sent", "active"), ((string)answer["action_id"]!, (string)answer["outcome"]!, (string)answer["lead_status"]!));
        var next = answer["next_action_at"].At();
        Assert.InRange(next, before.AddHours(1), after.AddHours(1));
        var lead = await LeadAsync(api, campaignId, 1);
        Assert.Equal(("active", 2, "email", (Guid?)null, "sent"), (lead.Status, lead.CurrentStep, lead.Channel, lead.OpenActionId, lead.LastOutcome));
        AssertClose(next, lead.NextActionAt!.Value);
        AssertClose(next, lead.EarliestAt!.Value);
        Assert.Equal(("closed", "sent"), ((await ActionAsync(api, lease)).State, (await ActionAsync(api, lease)).Outcome));
        Assert.Equal(0, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Fact]
    public async Task Sent_moves_the_lead_to_step_2_at_the_next_opening_of_the_schedule_when_the_delay_ends_outside_it()
    {
        var opensAt = api.Clock.GetUtcNow();
        // The window opens two hours before now (to the minute) and closes six hours after: ten hours on is outside, until the next day's opening.
        var nextOpening = new DateTimeOffset(opensAt.Year, opensAt.Month, opensAt.Day, opensAt.Hour, opensAt.Minute, 0, TimeSpan.Zero).AddHours(-2).AddDays(1);
        var (worker, lease, campaignId, _) = await LeasedAsync(body => body
            .With("sending_window_start", opensAt.AddHours(-2).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture))
            .With("sending_window_end", opensAt.AddHours(6).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 10));

        var before = api.Clock.GetUtcNow();
        var (status, answer) = await ReportAsync(worker, lease);
        var after = api.Clock.GetUtcNow();

        Assert.Equal(200, status);
        Assert.Equal(nextOpening, answer["next_action_at"].At());
        var lead = await LeadAsync(api, campaignId, 1);
        Assert.Equal(2, lead.CurrentStep);
        AssertClose(nextOpening, lead.NextActionAt!.Value);
        Assert.InRange(lead.EarliestAt!.Value, before.AddHours(10).AddMilliseconds(-1), after.AddHours(10).AddMilliseconds(1));
    }

    [Theory]
    [InlineData("bounced")]
    [InlineData("failed")]
    public async Task An_email_that_bounced_or_failed_fails_the_lead(string outcome)
    {
        var (worker, lease, campaignId, user) = await LeasedAsync();

        var (status, answer) = await ReportAsync(worker, lease, outcome);

        Assert.Equal(200, status);
        Assert.Equal((outcome, "failed"), ((string)answer["outcome"]!, (string)answer["lead_status"]!));
        Assert.True(answer.ContainsKey("next_action_at"));
        Assert.Null(answer["next_action_at"]);
        var lead = await LeadAsync(api, campaignId, 1);
        Assert.Equal(("failed", 1, (DateTimeOffset?)null, outcome), (lead.Status, lead.CurrentStep, lead.NextActionAt, lead.LastOutcome));
        // Its only lead is out of play: the campaign is done.
        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Equal(1, (int)campaign["processed_leads"]!);
    }

    [Fact]
    public async Task Completed_on_an_email_action_is_400_naming_outcome_and_changes_nothing()
    {
        var (worker, lease, campaignId, _) = await LeasedAsync();
        var leadBefore = await LeadAsync(api, campaignId, 1);

        var (status, problem) = await ReportAsync(worker, lease, "completed");

        Assert.Equal(400, status);
        Assert.Equal(["outcome"], ErrorKeys(problem));
        Assert.Equal(leadBefore, await LeadAsync(api, campaignId, 1));
        Assert.Equal(("leased", (string?)null), ((await ActionAsync(api, lease)).State, (await ActionAsync(api, lease)).Outcome));
        Assert.Equal(200, (await ReportAsync(worker, lease)).Status);
    }

    [Fact]
    public async Task Bounced_on_a_linkedin_action_is_400_naming_outcome_and_changes_nothing()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var campaignId = await LaunchAsync(api, user, userId, Linkedin(datasetId).AlwaysOpen(api.Clock));
        var worker = api.WorkerClient();
        var lease = Assert.Single(await LeaseAsync(worker, "linkedin"));
        var leadBefore = await LeadAsync(api, campaignId, 1);

        var (status, problem) = await ReportAsync(worker, lease, "bounced");

        Assert.Equal(400, status);
        Assert.Equal(["outcome"], ErrorKeys(problem));
        Assert.Equal(leadBefore, await LeadAsync(api, campaignId, 1));
        Assert.Equal("leased", (await ActionAsync(api, lease)).State);
        var (sent, answer) = await ReportAsync(worker, lease);
        Assert.Equal(200, sent);
        Assert.Equal("active", (string)answer["lead_status"]!);
        Assert.Equal(("linkedin", 2), ((await LeadAsync(api, campaignId, 1)).Channel, (await LeadAsync(api, campaignId, 1)).CurrentStep));
    }

    [Fact]
    public async Task The_same_outcome_repeated_with_the_same_token_answers_the_same_200()
    {
        var (worker, lease, campaignId, _) = await LeasedAsync();

        var first = await ReportAsync(worker, lease);
        var leadAfterFirst = await LeadAsync(api, campaignId, 1);
        api.Clock.Advance(TimeSpan.FromSeconds(5));
        var repeated = await ReportAsync(worker, lease);

        Assert.Equal(200, first.Status);
        Assert.Equal(200, repeated.Status);
        Assert.Equal(first.Body.ToJsonString(), repeated.Body.ToJsonString());
        Assert.Equal(leadAfterFirst, await LeadAsync(api, campaignId, 1));
    }

    [Fact]
    public async Task Another_outcome_with_the_token_that_closed_the_action_is_409()
    {
        var (worker, lease, campaignId, _) = await LeasedAsync();
        Assert.Equal(200, (await ReportAsync(worker, lease)).Status);
        var leadAfter = await LeadAsync(api, campaignId, 1);

        var (status, problem) = await ReportAsync(worker, lease, "bounced");

        Assert.Equal(409, status);
        Assert.Contains("sent", (string)problem["detail"]!);
        Assert.Equal(leadAfter, await LeadAsync(api, campaignId, 1));
        Assert.Equal("sent", (await ActionAsync(api, lease)).Outcome);
    }

    [Fact]
    public async Task An_outcome_for_an_unknown_action_is_404()
    {
        var (status, problem) = await ReportAsync(api.WorkerClient(),
            new JsonObject { ["action_id"] = Guid.NewGuid().ToString(), ["lease_token"] = Guid.NewGuid().ToString() });

        Assert.Equal(404, status);
        Assert.Equal(404, (int)problem["status"]!);
    }

    [Fact]
    public async Task A_malformed_action_id_in_the_path_is_400()
    {
        var (status, problem) = await ReportAsync(api.WorkerClient(),
            new JsonObject { ["action_id"] = "not-a-uuid", ["lease_token"] = Guid.NewGuid().ToString() });

        Assert.Equal(400, status);
        Assert.Equal(["action_id"], ErrorKeys(problem));
    }

    [Fact]
    public async Task A_stale_token_is_409_for_outcome_heartbeat_and_release_while_the_new_token_works()
    {
        var (worker, stale, campaignId, _) = await LeasedAsync(leaseSeconds: 10);
        // Past the lease and the sender's min_interval_seconds (60): the action is offered again.
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        var other = api.WorkerClient("worker-2");
        var fresh = Assert.Single(await LeaseAsync(other, leaseSeconds: 60));

        Assert.Equal((string)stale["action_id"]!, (string)fresh["action_id"]!);
        Assert.Equal((int)stale["attempt"]!, (int)fresh["attempt"]!);
        Assert.NotEqual((string)stale["lease_token"]!, (string)fresh["lease_token"]!);
        Assert.Equal(409, (await ReportAsync(worker, stale)).Status);
        Assert.Equal(409, (await HeartbeatAsync(worker, stale)).Status);
        Assert.Equal(409, (await ReleaseAsync(worker, stale)).Status);
        Assert.Equal(("leased", "worker-2"), ((await ActionAsync(api, fresh)).State, (await ActionAsync(api, fresh)).Worker));

        Assert.Equal(200, (await HeartbeatAsync(other, fresh, 120)).Status);
        var (status, answer) = await ReportAsync(other, fresh);
        Assert.Equal(200, status);
        Assert.Equal("active", (string)answer["lead_status"]!);
        Assert.Equal(2, (await LeadAsync(api, campaignId, 1)).CurrentStep);
    }

    [Fact]
    public async Task An_outcome_after_the_lease_expired_is_accepted_while_no_one_leased_the_action_again()
    {
        var (worker, lease, campaignId, _) = await LeasedAsync(leaseSeconds: 10);
        api.Clock.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal(409, (await HeartbeatAsync(worker, lease)).Status);
        var (status, answer) = await ReportAsync(worker, lease);

        Assert.Equal(200, status);
        Assert.Equal("active", (string)answer["lead_status"]!);
        Assert.Equal(("active", 2), ((await LeadAsync(api, campaignId, 1)).Status, (await LeadAsync(api, campaignId, 1)).CurrentStep));
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(await LeaseAsync(api.WorkerClient("worker-2")));
    }

    [Fact]
    public async Task A_batch_is_answered_item_by_item_in_order()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 5);
        var campaignId = await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(5)));
        var worker = api.WorkerClient();
        var leases = (await LeaseAsync(worker)).OrderBy(l => (int)l["row_number"]!).ToList();
        Assert.Equal(5, leases.Count);
        Assert.Equal(200, (await ReleaseAsync(worker, leases[3])).Status);
        var unknown = Guid.NewGuid();

        var (status, answer) = await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/outcomes", new JsonObject
        {
            ["items"] = new JsonArray(
                Item(leases[0], "sent"),
                Item(leases[1], "bounced"),
                new JsonObject { ["action_id"] = unknown, ["lease_token"] = Guid.NewGuid(), ["outcome"] = "sent" },
                Item(leases[3], "sent"),
                new JsonObject { ["action_id"] = (string)leases[4]["action_id"]!, ["outcome"] = "sent" },
                Item(leases[2], "skipped")),
        });

        Assert.True(status == 200, answer.ToJsonString());
        var items = answer["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal([200, 200, 404, 409, 400, 200], items.Select(i => (int)i["status"]!));
        Assert.Equal(
            new[] { leases[0], leases[1] }.Select(l => (string?)l["action_id"]).Append(unknown.ToString())
                .Concat(new[] { leases[3], leases[4], leases[2] }.Select(l => (string?)l["action_id"])),
            items.Select(i => (string?)i["action_id"]));
        Assert.Equal(("sent", "active"), ((string)items[0]["outcome"]!, (string)items[0]["lead_status"]!));
        Assert.Equal(("bounced", "failed"), ((string)items[1]["outcome"]!, (string)items[1]["lead_status"]!));
        Assert.Equal(("skipped", "active"), ((string)items[5]["outcome"]!, (string)items[5]["lead_status"]!));
        Assert.Equal(["items[4].lease_token"], ErrorKeys(items[4]));
        Assert.False(string.IsNullOrEmpty((string?)items[3]["detail"]));
        Assert.Equal(2, (await LeadAsync(api, campaignId, 1)).CurrentStep);
        Assert.Equal("failed", (await LeadAsync(api, campaignId, 2)).Status);
        Assert.Equal("released", (await ActionAsync(api, leases[3])).State);
        Assert.Equal("leased", (await ActionAsync(api, leases[4])).State);
        Assert.Equal(1, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(501)]
    public async Task A_batch_of_no_items_or_more_than_500_is_400(int count)
    {
        var items = new JsonArray(Enumerable.Range(0, count)
            .Select(_ => (JsonNode)new JsonObject { ["action_id"] = Guid.NewGuid(), ["lease_token"] = Guid.NewGuid(), ["outcome"] = "sent" }).ToArray());

        var (status, problem) = await SendAsync(api.WorkerClient(), HttpMethod.Post, "/api/v1/dispatch/outcomes", new JsonObject { ["items"] = items });

        Assert.Equal(400, status);
        Assert.Equal(["items"], ErrorKeys(problem));
    }

    private static JsonObject Item(JsonObject lease, string outcome) =>
        new() { ["action_id"] = (string)lease["action_id"]!, ["lease_token"] = (string)lease["lease_token"]!, ["outcome"] = outcome };

    /// <summary>The database keeps microseconds; the answer says what was computed.</summary>
    private static void AssertClose(DateTimeOffset expected, DateTimeOffset actual) =>
        Assert.InRange(actual, expected.AddMilliseconds(-1), expected.AddMilliseconds(1));

    private async Task<(HttpClient Worker, JsonObject Lease, Guid CampaignId, HttpClient User)> LeasedAsync(Func<JsonObject, JsonObject>? shape = null,
        int? leaseSeconds = null)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var body = Email(datasetId).AlwaysOpen(api.Clock);
        var campaignId = await LaunchAsync(api, user, userId, shape is null ? body : shape(body));
        var worker = api.WorkerClient();
        return (worker, Assert.Single(await LeaseAsync(worker, leaseSeconds: leaseSeconds)), campaignId, user);
    }
}
