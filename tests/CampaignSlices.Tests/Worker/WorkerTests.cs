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
        var before = DateTimeOffset.UtcNow;

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
        Assert.All(stillDue, lead => Assert.True(lead.NextActionAt <= DateTimeOffset.UtcNow, $"due again only at {lead.NextActionAt}"));
    }

    [Theory]
    [InlineData("--channel", "call")]
    [InlineData("--max", "501")]
    [InlineData("--lease-seconds", "5")]
    [InlineData("--simulate", "sent=1,opened=1")]
    [InlineData("--smtp", "localhost")]
    [InlineData("--rate", "0")]
    public void A_wrong_argument_is_refused_before_anything_is_leased(string name, string value)
    {
        var (options, error) = WorkerOptions.Parse(["--api", "http://localhost:5080", name, value], "a-token");
        Assert.Null(options);
        Assert.StartsWith(name, error);
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
    private static JsonObject OneStep(Guid datasetId, int leads, string template) =>
        Email(datasetId).AlwaysOpen().With("alias_ids", AliasIds(leads))
            .With("steps_config", new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = template }));

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
        string? ProviderReference, string? Worker);

    private async Task<Dictionary<int, StoredAction>> ActionsAsync(Guid campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return (await db.QueryAsync<StoredAction>("""
                select row_number, action_id, sender_id, state, outcome, detail, provider_reference, worker
                from actions where campaign_id = @campaignId
                """, new { campaignId }))
            .ToDictionary(action => action.RowNumber);
    }
}
