using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Tests.Dispatch;
using CampaignSlices.Tests.Infrastructure;
using CampaignSlices.Worker;
using Dapper;
using MimeKit;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Worker;

/// <summary>The reference worker, run in-process against the service over HTTP, to a campaign's completion.</summary>
public sealed class WorkerTests(DispatchFactory api) : IClassFixture<DispatchFactory>
{
    [Fact]
    public async Task Email_leases_go_out_through_smtp_a_refused_recipient_bounces_and_the_campaign_completes()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedLeadsAsync(api, userId,
        [
            new Lead(1, "ada@example.com", "Ada", Attributes: """{"role": "CTO"}"""),
            new Lead(2, "bounce@example.com", "Bob", Attributes: """{"role": "CFO"}"""),
            new Lead(3, "cy@example.com", "Cy", Attributes: """{"role": "COO"}"""),
        ], "role");
        var campaignId = await LaunchAsync(api, user, userId, OneStep(datasetId, 3, "Hi {{first_name}}, as {{ role }} you may like this."));
        await using var sink = new SmtpSink();

        var (totals, log) = await RunWorkerAsync("--smtp", $"127.0.0.1:{sink.Port}", "--from-domain", "mail.test");

        var actions = await ActionsAsync(campaignId);
        Assert.Equal(["ada@example.com", "cy@example.com"], sink.Messages.Select(received => received.Recipients.Single()).Order());
        foreach (var received in sink.Messages)
        {
            var row = received.Recipients.Single() == "ada@example.com" ? 1 : 3;
            var action = actions[row];
            var message = received.Message;
            Assert.Equal($"{action.SenderId}@mail.test", received.MailFrom);
            Assert.Equal($"{action.SenderId}@mail.test", message.From.Mailboxes.Single().Address);
            Assert.Equal(received.Recipients.Single(), message.To.Mailboxes.Single().Address);
            Assert.Equal(row == 1 ? "Hi Ada, as CTO you may like this." : "Hi Cy, as COO you may like this.", message.TextBody?.TrimEnd());
            Assert.Equal(action.ActionId.ToString(), message.Headers["X-Action-Id"]);
            Assert.Equal(campaignId.ToString(), message.Headers["X-Campaign-Id"]);
            Assert.Equal("1", message.Headers["X-Attempt"]);
            Assert.Equal($"{action.ActionId}.1@mail.test", message.MessageId);
            Assert.Equal("sent", action.Outcome);
            Assert.StartsWith("2.0.0 queued as sink-", action.ProviderReference);
        }
        Assert.Equal(["bounce@example.com"], sink.Refused);
        Assert.Equal("bounced", actions[2].Outcome);
        Assert.Contains("550", actions[2].Detail);
        Assert.All(actions.Values, action => Assert.Equal("worker-under-test", action.Worker));

        var leads = await LeadsAsync(api, campaignId);
        Assert.Equal(["completed", "failed", "completed"], leads.OrderBy(lead => lead.Key).Select(lead => lead.Value.Status));
        Assert.Equal("completed", (string)(await GetAsync(user, campaignId))["status"]!);
        var (_, stats) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");
        Assert.Equal(2, (int)stats["leads"]!["completed"]!);
        Assert.Equal(1, (int)stats["leads"]!["failed"]!);

        Assert.Equal(3, totals.Leased);
        Assert.Equal(2, totals.ReportedOf("sent"));
        Assert.Equal(1, totals.ReportedOf("bounced"));
        Assert.Contains(log, line => line.EndsWith(" leased 3, reported bounced=1 sent=2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_simulated_run_completes_the_campaign()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, OneStep(await SeedCompleteLeadsAsync(api, userId, 5), 5, "Hi {{first_name}}"));

        var (totals, _) = await RunWorkerAsync("--rate", "50");

        Assert.Equal(5, totals.Leased);
        Assert.Equal(5, totals.ReportedOf("sent"));
        Assert.All((await ActionsAsync(campaignId)).Values, action => Assert.Equal("sent", action.Outcome));
        Assert.Equal("completed", (string)(await GetAsync(user, campaignId))["status"]!);
    }

    [Fact]
    public async Task Mail_that_cannot_reach_its_server_is_given_back_for_a_minute()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, OneStep(await SeedCompleteLeadsAsync(api, userId, 2), 2, "Hi {{first_name}}"));
        int closedPort;
        await using (var sink = new SmtpSink())
            closedPort = sink.Port;
        var before = api.Clock.GetUtcNow();

        var (totals, _) = await RunWorkerAsync("--smtp", $"127.0.0.1:{closedPort}");

        Assert.Equal(2, totals.Leased);
        Assert.Equal(2, totals.Released);
        Assert.Empty(totals.Reported);
        var leads = await LeadsAsync(api, campaignId);
        Assert.All(leads.Values, lead =>
        {
            Assert.Equal(1, lead.Attempt);
            Assert.True(lead.NextActionAt >= before.AddSeconds(60), $"due again at {lead.NextActionAt}, not a minute after {before}");
        });
        Assert.All((await ActionsAsync(campaignId)).Values, action => Assert.Equal("released", action.State));
        Assert.Equal("active", (string)(await GetAsync(user, campaignId))["status"]!);
    }

    [Fact]
    public async Task A_batch_that_outlasts_half_its_lease_keeps_its_leases_alive()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, OneStep(await SeedCompleteLeadsAsync(api, userId, 3), 3, "Hi {{first_name}}"));

        // One action every 4 s: the batch takes about 8 s of its 10 s leases, so the heartbeat at 5 s extends them.
        var (totals, _) = await RunWorkerAsync("--lease-seconds", "10", "--rate", "0.25");

        Assert.Equal(3, totals.ReportedOf("sent"));
        Assert.Equal(0, totals.Lost);
        await using var db = await api.OpenDatabaseAsync();
        var leases = await db.QueryAsync<(DateTime LeasedAt, DateTime LeaseExpiresAt)>(
            "select leased_at, lease_expires_at from actions where campaign_id = @campaignId", new { campaignId });
        Assert.All(leases, lease => Assert.True(lease.LeaseExpiresAt - lease.LeasedAt > TimeSpan.FromSeconds(12),
            $"leased at {lease.LeasedAt:O}, held until {lease.LeaseExpiresAt:O}: never extended"));
        Assert.Equal("completed", (string)(await GetAsync(user, campaignId))["status"]!);
    }

    [Fact]
    public async Task A_stop_reports_what_was_done_and_gives_back_the_rest_at_once()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, OneStep(await SeedCompleteLeadsAsync(api, userId, 3), 3, "Hi {{first_name}}"));

        // One action every 10 s: the stop comes while the second waits for its turn.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(3));
        var (totals, log) = await RunWorkerAsync(stop.Token, "--rate", "0.1");

        Assert.Equal(3, totals.Leased);
        Assert.Equal(1, totals.ReportedOf("sent"));
        Assert.Equal(2, totals.Released);
        Assert.EndsWith("stopped: leased 3, reported sent=1, released 2", log[^1]);
        var actions = await ActionsAsync(campaignId);
        Assert.Equal(["closed", "released", "released"], actions.Values.Select(action => action.State).Order());
        var stillDue = (await LeadsAsync(api, campaignId)).Values.Where(lead => lead.Status != "completed").ToList();
        Assert.Equal(2, stillDue.Count);
        Assert.All(stillDue, lead => Assert.True(lead.NextActionAt <= api.Clock.GetUtcNow(), $"due again only at {lead.NextActionAt}"));
    }

    [Fact]
    public async Task A_simulated_telephony_run_completes_a_voice_campaign_each_call_reported_with_a_duration_in_its_range()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, VoiceCampaign(await SeedCompleteLeadsAsync(api, userId, 4)));

        var (totals, log) = await RunWorkerAsync("--channel", "call", "--simulate", "completed=1", "--call-seconds", "20-40");

        Assert.Equal(4, totals.Leased);
        Assert.Equal(4, totals.ReportedOf("completed"));
        Assert.Contains(log, line => line.EndsWith(" leased 4, reported completed=4", StringComparison.Ordinal));
        var actions = await ActionsAsync(campaignId);
        Assert.Equal([1, 2, 3, 4], actions.Keys.Order());
        Assert.All(actions.Values, action =>
        {
            Assert.Equal(("closed", "completed"), (action.State, action.Outcome));
            Assert.InRange(action.DurationSeconds!.Value, 20, 40);
        });
        Assert.All((await LeadsAsync(api, campaignId)).Values, lead => Assert.Equal("completed", lead.Status));
        Assert.Equal("completed", (string)(await GetAsync(user, campaignId))["status"]!);
    }

    [Fact]
    public async Task An_answered_call_under_the_campaigns_threshold_is_tallied_as_the_short_duration_the_service_counted()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var campaignId = await LaunchAsync(api, user, userId, VoiceCampaign(await SeedCompleteLeadsAsync(api, userId, 2)));

        // The Voice campaign's short_duration threshold is 10 s.
        var (totals, log) = await RunWorkerAsync("--channel", "call", "--call-seconds", "1-5");

        Assert.Equal(2, totals.ReportedOf("short_duration"));
        Assert.Equal(0, totals.ReportedOf("completed"));
        Assert.Contains(log, line => line.EndsWith(" leased 2, reported short_duration=2", StringComparison.Ordinal));
        Assert.All((await ActionsAsync(campaignId)).Values, action => Assert.InRange(action.DurationSeconds!.Value, 1, 5));
        Assert.All((await LeadsAsync(api, campaignId)).Values, lead => Assert.Equal(("active", 2), (lead.Status, lead.Attempt)));
    }

    [Fact]
    public async Task A_simulated_mix_with_busy_is_retried_as_the_retry_config_says_until_every_lead_completed_or_used_its_retries()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        const int leads = 8;
        var campaignId = await LaunchAsync(api, user, userId, VoiceCampaign(await SeedCompleteLeadsAsync(api, userId, leads)));
        // The Voice campaign retries busy at most twice, 30 then 120 minutes after the call.
        int[] retryMinutes = [30, 120];
        var totals = new Tally();

        for (var round = 1; round <= retryMinutes.Length + 1; round++)
        {
            var (run, _) = await RunWorkerAsync("--channel", "call", "--simulate", "completed=1,busy=1");
            totals.Add(run);
            var calls = await CallsAsync(campaignId);
            foreach (var (row, lead) in await LeadsAsync(api, campaignId))
            {
                var made = calls[row];
                Assert.Equal(Enumerable.Range(1, made.Count), made.Select(call => call.Attempt));
                Assert.All(made[..^1], call => Assert.Equal("busy", call.Outcome));
                var last = made[^1];
                if (last.Outcome == "completed")
                    Assert.Equal("completed", lead.Status);
                else if (made.Count <= retryMinutes.Length)
                {
                    Assert.Equal(("busy", "active", made.Count + 1), (last.Outcome, lead.Status, lead.Attempt));
                    var interval = TimeSpan.FromMinutes(retryMinutes[made.Count - 1]);
                    Assert.InRange(lead.NextActionAt!.Value - last.ReportedAt, interval - TimeSpan.FromSeconds(1), interval + TimeSpan.FromSeconds(1));
                }
                else
                    Assert.Equal(("busy", "failed"), (last.Outcome, lead.Status));
            }
            if (round <= retryMinutes.Length)
                api.Clock.Advance(TimeSpan.FromMinutes(retryMinutes[round - 1]));
        }

        var settled = await CallsAsync(campaignId);
        Assert.Equal(leads, settled.Count);
        Assert.Equal(settled.Values.Sum(made => made.Count), totals.Leased);
        Assert.Equal(settled.Values.Sum(made => made.Count(call => call.Outcome == "busy")), totals.ReportedOf("busy"));
        Assert.Equal(settled.Values.Count(made => made[^1].Outcome == "completed"), totals.ReportedOf("completed"));
        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Equal(leads, (int)campaign["processed_leads"]!);
    }

    [Theory]
    [InlineData("--channel", "sms")]
    [InlineData("--max", "501")]
    [InlineData("--lease-seconds", "5")]
    [InlineData("--simulate", "sent=1,opened=1")]
    [InlineData("--smtp", "localhost")]
    [InlineData("--rate", "0")]
    [InlineData("--call-seconds", "30-180")]
    public void A_wrong_argument_is_refused_before_anything_is_leased(string name, string value)
    {
        var (options, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", name, value], "a-token");
        Assert.Null(options);
        Assert.StartsWith(name, error);
    }

    [Fact]
    public void A_call_worker_simulates_answered_calls_of_30_to_180_seconds_unless_told_otherwise()
    {
        var (call, _) = WorkerOptions.Parse(["--api", "http://localhost:5080", "--channel", "call"], "a-token");
        Assert.Equal([new SimulatedShare("completed", 1)], call!.Simulate);
        Assert.Equal(new CallSeconds(30, 180), call.CallSeconds);

        var (mixed, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", "--channel", "call", "--call-seconds", "0-45",
            "--simulate", "completed=80,busy=10,no_answer=10,short_duration=1,failed=1,provider_error=1,internal_error=1"], "a-token");
        Assert.True(mixed is not null, error);
        Assert.Equal(["completed", "busy", "no_answer", "short_duration", "failed", "provider_error", "internal_error"],
            mixed.Simulate.Select(share => share.Outcome));
        Assert.Equal(new CallSeconds(0, 45), mixed.CallSeconds);

        var (email, _) = WorkerOptions.Parse(["--api", "http://localhost:5080"], "a-token");
        Assert.Null(email!.CallSeconds);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("180-30")]
    [InlineData("10-86401")]
    [InlineData("-5-10")]
    [InlineData("1.5-10")]
    [InlineData("30-")]
    public void Call_seconds_are_a_range_of_whole_seconds_up_to_a_day(string value)
    {
        var (options, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", "--channel", "call", "--call-seconds", value], "a-token");
        Assert.Null(options);
        Assert.StartsWith("--call-seconds is MIN-MAX", error);
    }

    [Theory]
    [InlineData("call", "sent=1")]
    [InlineData("call", "completed=1,bounced=1")]
    [InlineData("email", "completed=1")]
    [InlineData("linkedin", "busy=1")]
    public void A_simulated_outcome_the_channel_does_not_have_is_refused(string channel, string mix)
    {
        var (options, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", "--channel", channel, "--simulate", mix], "a-token");
        Assert.Null(options);
        Assert.StartsWith("--simulate", error);
    }

    [Fact]
    public void Calls_can_only_be_simulated()
    {
        var (options, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", "--channel", "call", "--smtp", "localhost:25"], "a-token");
        Assert.Null(options);
        Assert.Equal("--smtp sends email: calls can only be simulated (--simulate with --channel call)", error);
    }

    [Fact]
    public void The_token_comes_from_the_environment_when_not_given()
    {
        var (options, _) = WorkerOptions.Parse(["--api", "http://localhost:5080"], "from-the-environment");
        Assert.Equal("from-the-environment", options!.Token);
        var (none, error) = WorkerOptions.Parse(["--api", "http://localhost:5080"], null);
        Assert.Null(none);
        Assert.Contains(WorkerOptions.TokenVariable, error);
    }

    [Fact]
    public void A_variant_without_a_template_is_sent_as_a_text_naming_it()
    {
        var templateId = Guid.NewGuid();
        var lease = new Lease(Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow, Guid.NewGuid(), 1, 2, 1, "email", null, null,
            new LeasedVariant("A", "template", templateId), new LeasedSender("alias-1", null),
            new LeadRow("ada@example.com", "Ada", null, null, null, null, new JsonObject()), new LeaseSettings("Best, %first_name%"));
        Assert.Equal($"Variant A (template), template {templateId}.\n\n-- \nBest, Ada", EmailMessage.Body(lease, "alias-1@mail.test"));
    }

    /// <summary>An email campaign of one step over <paramref name="leads"/> leads, one alias each so that all go out at once.</summary>
    private JsonObject OneStep(Guid datasetId, int leads, string template) =>
        Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(leads))
            .With("steps_config", new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = template }));

    /// <summary>
    /// The Voice campaign (busy retried twice after 30 then 120 minutes, answered calls under 10 s short), its calls not held
    /// back by the call rate. Its window is around the service's clock, which the retry test moves ahead.
    /// </summary>
    private JsonObject VoiceCampaign(Guid datasetId) => Voice(datasetId).AlwaysOpen(api.Clock).With("voice_config.attempts_per_second", 100);

    /// <summary>The worker until it has had nothing to lease for two seconds, and the lines it logged.</summary>
    private Task<(Tally Totals, string[] Log)> RunWorkerAsync(params string[] arguments) =>
        RunWorkerAsync(TestContext.Current.CancellationToken, arguments);

    private async Task<(Tally Totals, string[] Log)> RunWorkerAsync(CancellationToken stop, params string[] arguments)
    {
        var token = Auth.IssueWorkerToken(ApiFactory.TokenSettings, "worker-under-test", TimeSpan.FromHours(1));
        var (options, error) = WorkerOptions.Parse(
            ["--api", api.AnonymousClient().BaseAddress!.ToString(), "--token", token, "--until-idle", "2", .. arguments], null);
        Assert.True(options is not null, error);
        var log = new StringWriter();
        var totals = await new ChannelWorker(log).RunAsync(options, stop);
        return (totals, log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private sealed record StoredAction(int RowNumber, Guid ActionId, string SenderId, string State, string? Outcome, string? Detail,
        string? ProviderReference, string? Worker, int? DurationSeconds);

    private async Task<Dictionary<int, StoredAction>> ActionsAsync(Guid campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return (await db.QueryAsync<StoredAction>("""
                select row_number, action_id, sender_id, state, outcome, detail, provider_reference, worker, duration_seconds
                from actions where campaign_id = @campaignId
                """, new { campaignId }))
            .ToDictionary(action => action.RowNumber);
    }

    private sealed record StoredCall(int RowNumber, int Attempt, string? Outcome, DateTimeOffset ReportedAt);

    /// <summary>Each lead's calls (a campaign of one step), by attempt.</summary>
    private async Task<Dictionary<int, List<StoredCall>>> CallsAsync(Guid campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return (await db.QueryAsync<StoredCall>("""
                select row_number, attempt, outcome, reported_at from actions where campaign_id = @campaignId order by row_number, attempt
                """, new { campaignId }))
            .GroupBy(call => call.RowNumber)
            .ToDictionary(calls => calls.Key, calls => calls.ToList());
    }
}
