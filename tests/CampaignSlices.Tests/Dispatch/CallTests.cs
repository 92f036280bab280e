using System.Text.Json.Nodes;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>Voice campaigns through the dispatch API: call leases, the call rate, connections by weight, outcomes and their retries.</summary>
public sealed class CallTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_call_lease_names_the_connection_the_phone_number_and_the_leads_phone_and_completed_completes_the_lead()
    {
        var (worker, campaignId, user) = await LaunchVoiceAsync(1);

        var lease = Assert.Single(await LeaseAsync(worker, "call"));

        Assert.Equal(("call", 1, 1), ((string)lease["channel"]!, (int)lease["step"]!, (int)lease["attempt"]!));
        Assert.Equal(["connection_id", "phone_number"], lease["sender"]!.AsObject().Select(p => p.Key));
        Assert.Equal(("twilio-main", "+14155550123"), ((string)lease["sender"]!["connection_id"]!, (string)lease["sender"]!["phone_number"]!));
        Assert.Equal(Complete(1).Phone, (string)lease["lead"]!["phone"]!);
        Assert.Equal(("agent-7", "agent"), ((string)lease["settings"]!["app_id"]!, (string)lease["settings"]!["app_type"]!));
        var (status, answer) = await ReportCallAsync(worker, lease, "completed", durationSeconds: 42);
        Assert.True(status == 200, answer.ToJsonString());
        Assert.Equal(("completed", "completed"), ((string)answer["outcome"]!, (string)answer["lead_status"]!));
        Assert.Equal(1, (int)(await WaitForStatusAsync(user, campaignId, "completed"))["processed_leads"]!);
    }

    [Fact]
    public async Task Busy_is_retried_after_each_interval_with_the_last_repeating_then_the_lead_fails_when_max_retries_are_used()
    {
        var (worker, campaignId, _) = await LaunchVoiceAsync(1, config => config
            .With("retry_config.max_retries", 3).With("retry_config.retry_interval_minutes", new JsonArray(30, 120)));

        var first = Assert.Single(await LeaseAsync(worker, "call"));
        var before = api.Clock.GetUtcNow();
        var (_, answer) = await ReportCallAsync(worker, first, "busy");
        Assert.Equal(("busy", "active"), ((string)answer["outcome"]!, (string)answer["lead_status"]!));
        Assert.InRange(answer["next_action_at"].At(), before.AddMinutes(30), api.Clock.GetUtcNow().AddMinutes(30));
        Assert.Empty(await LeaseAsync(worker, "call"));

        foreach (var (attempt, minutes) in new[] { (2, 120), (3, 120) })
        {
            api.Clock.Advance(TimeSpan.FromMinutes(attempt == 2 ? 30 : 120));
            var retry = Assert.Single(await LeaseAsync(worker, "call"));
            Assert.Equal((1, attempt, (string)first["sender"]!["phone_number"]!), ((int)retry["step"]!, (int)retry["attempt"]!, (string)retry["sender"]!["phone_number"]!));
            Assert.NotEqual((string)first["action_id"]!, (string)retry["action_id"]!);
            before = api.Clock.GetUtcNow();
            (_, answer) = await ReportCallAsync(worker, retry, "busy");
            Assert.InRange(answer["next_action_at"].At(), before.AddMinutes(minutes), api.Clock.GetUtcNow().AddMinutes(minutes));
        }

        api.Clock.Advance(TimeSpan.FromMinutes(120));
        var last = Assert.Single(await LeaseAsync(worker, "call"));
        Assert.Equal(4, (int)last["attempt"]!);
        (_, answer) = await ReportCallAsync(worker, last, "busy");
        Assert.Equal("failed", (string)answer["lead_status"]!);
        Assert.Equal(("failed", "busy"), ((await LeadAsync(api, campaignId, 1)).Status, (await LeadAsync(api, campaignId, 1)).LastOutcome));
    }

    [Theory]
    [InlineData("no_answer")]
    [InlineData("failed")]
    public async Task An_outcome_whose_retry_is_disabled_or_left_out_fails_the_lead_at_once(string outcome)
    {
        var (worker, _, _) = await LaunchVoiceAsync(1, config => config
            .With("retry_config.retry_on.failed", new JsonObject { ["enabled"] = false }));

        var (status, answer) = await ReportCallAsync(worker, Assert.Single(await LeaseAsync(worker, "call")), outcome);

        Assert.Equal(200, status);
        Assert.Equal((outcome, "failed"), ((string)answer["outcome"]!, (string)answer["lead_status"]!));
    }

    [Fact]
    public async Task An_answered_call_under_the_threshold_counts_as_short_duration_and_is_retried_and_its_report_repeats_the_same()
    {
        var (worker, _, _) = await LaunchVoiceAsync(1);
        var lease = Assert.Single(await LeaseAsync(worker, "call"));

        var (status, answer) = await ReportCallAsync(worker, lease, "completed", durationSeconds: 4);
        var (againStatus, again) = await ReportCallAsync(worker, lease, "completed", durationSeconds: 4);

        Assert.Equal((200, 200), (status, againStatus));
        Assert.Equal(("short_duration", "active"), ((string)answer["outcome"]!, (string)answer["lead_status"]!));
        Assert.Equal(answer.ToJsonString(), again.ToJsonString());
        Assert.Equal(("closed", "short_duration"), ((await ActionAsync(api, lease)).State, (await ActionAsync(api, lease)).Outcome));
        Assert.Equal(409, (await ReportCallAsync(worker, lease, "busy")).Status);
    }

    [Fact]
    public async Task A_provider_error_is_retried_at_its_own_interval_until_its_own_max_retries()
    {
        // Overall max_retries 5, provider_error its own 1 retry after 5 minutes.
        var (worker, _, _) = await LaunchVoiceAsync(1, config => config
            .With("retry_config.max_retries", 5).With("retry_config.retry_on.provider_error.max_retries", 1));

        var before = api.Clock.GetUtcNow();
        var (_, answer) = await ReportCallAsync(worker, Assert.Single(await LeaseAsync(worker, "call")), "provider_error");
        Assert.Equal("active", (string)answer["lead_status"]!);
        Assert.InRange(answer["next_action_at"].At(), before.AddMinutes(5), api.Clock.GetUtcNow().AddMinutes(5));

        api.Clock.Advance(TimeSpan.FromMinutes(5));
        var second = Assert.Single(await LeaseAsync(worker, "call"));
        (_, answer) = await ReportCallAsync(worker, second, "provider_error");
        Assert.Equal("failed", (string)answer["lead_status"]!);
    }

    [Fact]
    public async Task A_call_whose_lease_expired_is_closed_as_internal_error_and_never_offered_again_as_the_same_attempt()
    {
        var (worker, campaignId, user) = await LaunchVoiceAsync(1);
        var lease = Assert.Single(await LeaseAsync(worker, "call", leaseSeconds: 10));

        api.Clock.Advance(TimeSpan.FromSeconds(11));

        // internal_error is not in this retry_config: the lead fails rather than being dialled again.
        Assert.Empty(await LeaseAsync(worker, "call"));
        var action = await ActionAsync(api, lease);
        Assert.Equal(("closed", "internal_error"), (action.State, action.Outcome));
        Assert.Equal("failed", (await LeadAsync(api, campaignId, 1)).Status);
        Assert.Equal(409, (await ReportCallAsync(worker, lease, "completed", durationSeconds: 30)).Status);
        await WaitForStatusAsync(user, campaignId, "completed");
    }

    [Fact]
    public async Task An_expired_call_lease_is_retried_as_internal_error_says_even_when_no_worker_polls()
    {
        var (worker, campaignId, _) = await LaunchVoiceAsync(1, config => config
            .With("retry_config.retry_on.internal_error", new JsonObject { ["enabled"] = true, ["max_retries"] = 1, ["retry_interval_minutes"] = 2 }));
        var lease = Assert.Single(await LeaseAsync(worker, "call", leaseSeconds: 10));

        api.Clock.Advance(TimeSpan.FromSeconds(11));

        // The sweep's own handler, as its Quartz trigger runs it: the test's clock jumps make that trigger misfire for a while.
        var swept = await api.Services.GetRequiredService<SweepCampaigns.Handler>().SweepAsync(CancellationToken.None);
        Assert.True(swept.ExpiredCalls >= 1);
        Assert.Equal(("closed", "internal_error"), ((await ActionAsync(api, lease)).State, (await ActionAsync(api, lease)).Outcome));
        var lead = await LeadAsync(api, campaignId, 1);
        Assert.Equal(("active", 2), (lead.Status, lead.Attempt));
        Assert.InRange(lead.NextActionAt!.Value, api.Clock.GetUtcNow().AddMinutes(2).AddSeconds(-5), api.Clock.GetUtcNow().AddMinutes(2));
        api.Clock.Advance(TimeSpan.FromMinutes(2));
        var retry = Assert.Single(await LeaseAsync(worker, "call"));
        Assert.Equal(2, (int)retry["attempt"]!);
    }

    [Fact]
    public async Task A_released_call_goes_again_as_the_same_attempt()
    {
        var (worker, _, _) = await LaunchVoiceAsync(1);
        var lease = Assert.Single(await LeaseAsync(worker, "call"));

        Assert.Equal(200, (await ReleaseAsync(worker, lease)).Status);
        var again = Assert.Single(await LeaseAsync(worker, "call"));

        Assert.Equal(((string)lease["action_id"]!, 1), ((string)again["action_id"]!, (int)again["attempt"]!));
        Assert.Equal(lease["sender"]!.ToJsonString(), again["sender"]!.ToJsonString());
    }

    [Fact]
    public async Task Attempts_per_second_caps_the_calls_leased_in_each_window_and_held_calls_come_due_a_window_at_a_time()
    {
        // 0.3 a second: 3 calls in any 10 seconds.
        var (worker, campaignId, _) = await LaunchVoiceAsync(12, config => config.With("attempts_per_second", 0.3));

        Assert.Equal(3, (await LeaseAsync(worker, "call", max: 50)).Count);
        Assert.Empty(await LeaseAsync(worker, "call", max: 50));

        // The nine held back are due three at a time, about ten seconds apart.
        var held = (await LeadsAsync(api, campaignId)).Values.Where(lead => lead.Status == "pending")
            .GroupBy(lead => lead.NextActionAt!.Value).OrderBy(slot => slot.Key).ToList();
        Assert.Equal([3, 3, 3], held.Select(slot => slot.Count()));
        Assert.All(held.Zip(held.Skip(1)), pair => Assert.Equal(10.2, (pair.Second.Key - pair.First.Key).TotalSeconds, 0.01));
        api.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(3, (await LeaseAsync(worker, "call", max: 50)).Count);
        Assert.Empty(await LeaseAsync(worker, "call", max: 50));
        api.Clock.Advance(TimeSpan.FromSeconds(10.3));
        Assert.Equal(2, (await LeaseAsync(worker, "call", max: 2)).Count);
        Assert.Single(await LeaseAsync(worker, "call", max: 50));
        Assert.Empty(await LeaseAsync(worker, "call", max: 50));
    }

    [Fact]
    public async Task A_faster_call_rate_patched_while_paused_spreads_the_held_calls_afresh()
    {
        // 0.1 a second: one call, and nine held back ten seconds apart.
        var (worker, campaignId, user) = await LaunchVoiceAsync(10, config => config.With("attempts_per_second", 0.1));
        var voiceConfig = (await GetAsync(user, campaignId))["voice_config"]!.AsObject();
        Assert.Single(await LeaseAsync(worker, "call", max: 50));
        Assert.Empty(await LeaseAsync(worker, "call", max: 50));

        await LifecycleAsync(user, campaignId, "pause");
        await PatchAsync(user, campaignId, new JsonObject { ["voice_config"] = ((JsonObject)voiceConfig.DeepClone()).With("attempts_per_second", 100) });
        await LifecycleAsync(user, campaignId, "resume");

        Assert.Equal(9, (await LeaseAsync(worker, "call", max: 50)).Count);
    }

    [Fact]
    public async Task The_daily_limit_counts_calls()
    {
        var (worker, _, _) = await LaunchVoiceAsync(5, config => config.With("attempts_per_second", 100), body => body.With("daily_limit", 2));

        Assert.Equal(2, (await LeaseAsync(worker, "call", max: 50)).Count);
        Assert.Empty(await LeaseAsync(worker, "call", max: 50));
    }

    [Fact]
    public async Task Leads_take_connections_in_proportion_to_their_weights_and_each_connections_numbers_in_turn()
    {
        var (worker, campaignId, _) = await LaunchVoiceAsync(8, config => config
            .With("attempts_per_second", 100)
            .With("connection_configs", new JsonArray(
                new JsonObject { ["connection_id"] = "main", ["phone_numbers"] = new JsonArray("+14155550001", "+14155550002"), ["weight"] = 75 },
                new JsonObject { ["connection_id"] = "spare", ["phone_numbers"] = new JsonArray("+14155550009"), ["weight"] = 25 })));

        var leases = await LeaseAsync(worker, "call", max: 50);

        Assert.Equal(8, leases.Count);
        var senders = leases.Select(lease => ((string)lease["sender"]!["connection_id"]!, (string)lease["sender"]!["phone_number"]!)).ToList();
        Assert.Equal(6, senders.Count(s => s.Item1 == "main"));
        Assert.Equal(2, senders.Count(s => s.Item1 == "spare"));
        Assert.Equal(3, senders.Count(s => s.Item2 == "+14155550001"));
        Assert.Equal(3, senders.Count(s => s.Item2 == "+14155550002"));
        // Kept for the lead's next attempt.
        var kept = leases[0];
        await ReportCallAsync(worker, kept, "busy");
        api.Clock.Advance(TimeSpan.FromMinutes(30));
        var retry = Assert.Single(await LeaseAsync(worker, "call"));
        Assert.Equal(((int)kept["row_number"]!, kept["sender"]!.ToJsonString()), ((int)retry["row_number"]!, retry["sender"]!.ToJsonString()));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(6, await db.ExecuteScalarAsync<int>(
            "select leads from campaign_senders where campaign_id = @campaignId and sender_id = 'main'", new { campaignId }));
    }

    [Fact]
    public async Task Two_replicas_leasing_at_once_never_exceed_attempts_per_second()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        await using var first = await StartAsync(database);
        await using var second = await StartAsync(database);
        var userId = Guid.NewGuid();
        var user = first.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(first, userId, 40);
        await LaunchAsync(first, user, userId, Voice(datasetId).AlwaysOpen(first.Clock).With("voice_config.attempts_per_second", 0.1));
        var workers = new[] { first.WorkerClient("a"), second.WorkerClient("b"), first.WorkerClient("c"), second.WorkerClient("d") };

        var leased = await Task.WhenAll(workers.Select(async worker =>
        {
            var ids = new List<string>();
            for (var i = 0; i < 5; i++)
                ids.AddRange(ActionIds(await LeaseAsync(worker, "call", max: 5)));
            return ids;
        }));

        // 0.1 a second is one call in any 10 seconds, far longer than four workers take to lease 20 times.
        Assert.Single(leased.SelectMany(ids => ids));
    }

    [Fact]
    public async Task A_voice_campaign_runs_to_completed_driven_by_a_simulated_telephony_worker()
    {
        // Two call steps a day apart; every lead is busy once, then answers.
        var (worker, campaignId, user) = await LaunchVoiceAsync(6, config => config.With("attempts_per_second", 100),
            body => body.With("steps_config", new JsonArray(new JsonObject { ["channel"] = "call" },
                new JsonObject { ["channel"] = "call", ["delay_days"] = 1 })));
        var busyOnce = new HashSet<(int Row, int Step)>();
        var outcomes = new List<string>();

        for (var round = 0; round < 60 && (string)(await GetAsync(user, campaignId))["status"]! != "completed"; round++)
        {
            var leases = await LeaseAsync(worker, "call", max: 50);
            var items = new JsonArray();
            foreach (var lease in leases)
            {
                var key = ((int)lease["row_number"]!, (int)lease["step"]!);
                var outcome = busyOnce.Add(key) ? "busy" : "completed";
                outcomes.Add(outcome);
                items.Add(new JsonObject
                {
                    ["action_id"] = (string)lease["action_id"]!, ["lease_token"] = (string)lease["lease_token"]!, ["outcome"] = outcome,
                    ["duration_seconds"] = outcome == "completed" ? 95 : null,
                });
            }
            if (items.Count > 0)
                Assert.Equal(200, (await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/outcomes", new JsonObject { ["items"] = items })).Status);
            else
                api.Clock.Advance(TimeSpan.FromHours(2));
        }

        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Equal((6, 6), ((int)campaign["total_leads"]!, (int)campaign["processed_leads"]!));
        Assert.Equal((12, 12), (outcomes.Count(o => o == "busy"), outcomes.Count(o => o == "completed")));
        Assert.All((await LeadsAsync(api, campaignId)).Values, lead => Assert.Equal(("completed", 2), (lead.Status, lead.CurrentStep)));
    }

    [Fact]
    public async Task The_estimated_completion_of_a_voice_campaign_counts_calls_at_attempts_per_second()
    {
        // 600 calls at 10 a second fit in today's window; one connection paced by min_interval_seconds (60) would need two days.
        var (_, campaignId, user) = await LaunchVoiceAsync(600, body => body, body => body.With("daily_limit", 10000));

        var (status, stats) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");

        Assert.Equal(200, status);
        Assert.InRange(stats["estimated_completion_at"].At(), api.Clock.GetUtcNow(), api.Clock.GetUtcNow().AddHours(6));
    }

    private async Task<(HttpClient Worker, Guid CampaignId, HttpClient User)> LaunchVoiceAsync(int leads,
        Func<JsonObject, JsonObject>? voiceConfig = null, Func<JsonObject, JsonObject>? campaign = null)
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, leads);
        var body = Voice(datasetId).AlwaysOpen(api.Clock);
        var config = body["voice_config"]!.AsObject();
        config["attempts_per_second"] = 10;
        if (voiceConfig is not null)
            body["voice_config"] = voiceConfig((JsonObject)config.DeepClone());
        var campaignId = await LaunchAsync(api, user, userId, campaign is null ? body : campaign(body));
        return (api.WorkerClient(), campaignId, user);
    }

    private static Task<(int Status, JsonObject Body)> ReportCallAsync(HttpClient worker, JsonObject lease, string outcome, int? durationSeconds = null) =>
        SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{lease["action_id"]}/outcome",
            new JsonObject { ["lease_token"] = (string)lease["lease_token"]!, ["outcome"] = outcome, ["duration_seconds"] = durationSeconds });
}
