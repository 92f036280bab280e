using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Dispatch;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>The owner's view of a running campaign: its leads page by page, and one lead with the actions it had.</summary>
public sealed class LeadReadTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    private static readonly string[] LeadFields =
    [
        "current_step", "email", "last_outcome", "linkedin_url", "next_action_at", "phone", "row_number", "sender", "status", "stop_reason",
        "timezone", "updated_at",
    ];

    private static readonly string[] ActionFields =
    [
        "action_id", "attempt", "channel", "detail", "lease_expires_at", "leased_at", "occurred_at", "outcome", "provider_reference",
        "reported_at", "sender_id", "state", "step", "times_leased", "variant", "worker",
    ];

    private readonly Guid _user = Guid.NewGuid();

    // The class shares one queue: each test leases only what it launches.
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static JsonObject OneEmailStep(JsonObject body) =>
        body.With("steps_config", new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" }));

    private async Task<(HttpClient User, Guid CampaignId)> LaunchedAsync(int leads, Func<Guid, JsonObject> body)
    {
        var user = api.ClientFor(_user);
        var datasetId = await SeedCompleteLeadsAsync(api, _user, leads);
        return (user, await LaunchAsync(api, user, _user, body(datasetId).AlwaysOpen(api.Clock)));
    }

    private static async Task<List<JsonObject>> PagesAsync(HttpClient client, Guid campaignId, string query)
    {
        var pages = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var url = $"/api/v1/campaigns/{campaignId}/leads?{query}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var (status, page) = await SendAsync(client, HttpMethod.Get, url);
            Assert.True(status == 200, page.ToJsonString());
            Assert.Equal(["items", "next_cursor"], page.Select(field => field.Key).Order());
            pages.Add(page);
            cursor = (string?)page["next_cursor"];
            Assert.True(pages.Count < 100, "the cursor never ran out");
        } while (cursor is not null);
        return pages;
    }

    private static List<JsonObject> Items(IEnumerable<JsonObject> pages) =>
        [.. pages.SelectMany(page => page["items"]!.AsArray()).Select(item => item!.AsObject())];

    private static int[] Rows(IEnumerable<JsonObject> items) => [.. items.Select(item => (int)item["row_number"]!)];

    private static async Task<JsonObject> LeadAsync(HttpClient client, Guid campaignId, int row)
    {
        var (status, lead) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/leads/{row}");
        Assert.True(status == 200, $"GET lead answered {status}: {lead.ToJsonString()}");
        Assert.Equal([.. LeadFields.Append("actions").Order()], lead.Select(field => field.Key).Order());
        return lead;
    }

    [Fact]
    public async Task Pages_through_every_lead_once_in_row_order()
    {
        var user = api.ClientFor(_user);
        var datasetId = await SeedLeadsAsync(api, _user,
            Enumerable.Range(1, 7).Select(row => row == 2 ? Complete(row) with { Attributes = """{"timezone":"Asia/Kolkata"}""" } : Complete(row)),
            "timezone");
        var campaignId = await LaunchAsync(api, user, _user, Email(datasetId).AlwaysOpen(api.Clock));

        var pages = await PagesAsync(user, campaignId, "limit=3");

        Assert.Equal([3, 3, 1], pages.Select(page => page["items"]!.AsArray().Count));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], Rows(Items(pages)));
        Assert.Null(pages[^1]["next_cursor"]);
        var first = Items(pages)[0];
        Assert.Equal(LeadFields, first.Select(field => field.Key).Order());
        Assert.Equal(("pending", 1, "lead1@example.com", "https://www.linkedin.com/in/lead-1/", "+14155550001"),
            ((string)first["status"]!, (int)first["current_step"]!, (string)first["email"]!, (string)first["linkedin_url"]!, (string)first["phone"]!));
        // Nothing leased yet: no sender, no outcome; due now, as the schedule is open.
        Assert.All(["sender", "last_outcome", "stop_reason", "timezone"], field => Assert.Null(first[field]));
        Assert.EndsWith("Z", (string)first["next_action_at"]!);
        Assert.EndsWith("Z", (string)first["updated_at"]!);
        Assert.Equal("Asia/Kolkata", (string?)Items(pages)[1]["timezone"]);

        var whole = await PagesAsync(user, campaignId, "limit=7");
        Assert.Single(whole);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], Rows(Items(whole)));
        Assert.Equal(50, (await PagesAsync(user, (await LaunchedAsync(51, Email)).CampaignId, "")).First()["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Filters_by_status_across_pages_as_leads_are_leased_and_reported()
    {
        var worker = api.WorkerClient();
        var (user, campaignId) = await LaunchedAsync(7, datasetId => OneEmailStep(Email(datasetId)).With("alias_ids", Aliases(7)));

        var leases = await LeaseAsync(worker, max: 5);
        Assert.Equal(5, leases.Count);
        var rows = leases.Select(lease => (int)lease["row_number"]!).ToList();
        foreach (var lease in leases.Take(3))
            Assert.Equal(200, (await ReportAsync(worker, lease)).Status);
        Assert.Equal(200, (await ReportAsync(worker, leases[3], "bounced")).Status);

        var completed = await PagesAsync(user, campaignId, "status=completed&limit=2");
        Assert.Equal(rows.Take(3).Order(), Rows(Items(completed)));
        Assert.Equal(2, completed.Count);
        Assert.All(Items(completed), lead =>
        {
            Assert.Equal(("completed", "sent"), ((string)lead["status"]!, (string)lead["last_outcome"]!));
            Assert.StartsWith("a-", (string)lead["sender"]!);
            Assert.Null(lead["next_action_at"]);
        });
        var failed = Items(await PagesAsync(user, campaignId, "status=failed"));
        Assert.Equal(new[] { rows[3] }, Rows(failed));
        Assert.Equal("bounced", (string)failed[0]["last_outcome"]!);
        Assert.Equal(new[] { rows[4] }, Rows(Items(await PagesAsync(user, campaignId, "status=active&limit=1"))));
        Assert.Equal(Enumerable.Range(1, 7).Except(rows), Rows(Items(await PagesAsync(user, campaignId, "status=pending&limit=1"))));
        Assert.Empty(Items(await PagesAsync(user, campaignId, "status=stopped")));
        Assert.Equal(Enumerable.Range(1, 7), Rows(Items(await PagesAsync(user, campaignId, "limit=4"))));
    }

    [Fact]
    public async Task A_draft_campaign_lists_no_leads_and_has_no_lead_to_read()
    {
        var user = api.ClientFor(_user);
        var campaignId = await CreateIdAsync(user, Email(await SeedCompleteLeadsAsync(api, _user, 3)));

        var pages = await PagesAsync(user, campaignId, "");
        var (status, problem) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/leads/1");

        Assert.Single(pages);
        Assert.Empty(Items(pages));
        Assert.Null(pages[0]["next_cursor"]);
        Assert.Equal(404, status);
        Assert.Equal($"Lead 1 of campaign {campaignId} was not found.", (string)problem["detail"]!);
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "limit=0", "limit" },
        { "limit=201", "limit" },
        { "limit=-1", "limit" },
        { "limit=ten", "limit" },
        { "limit=", "limit" },
        { "cursor=not-a-cursor!", "cursor" },
        { "cursor=", "cursor" },
        { "cursor=" + Base64Url("lead:0"), "cursor" },
        { "cursor=" + Base64Url("lead:-3"), "cursor" },
        { "cursor=" + Base64Url("lead:99999999999"), "cursor" },
        { "cursor=" + Base64Url("12"), "cursor" },
        { "cursor=" + Base64Url("123:0193a5c4000070008000000000000001"), "cursor" },
        { "cursor=" + new string('A', 101), "cursor" },
        { "status=running", "status" },
        { "status=PENDING", "status" },
        { "status=", "status" },
    };

    private static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task Rejects_a_bad_list_query_naming_the_parameter(string query, string parameter)
    {
        var user = api.ClientFor(_user);
        var campaignId = await CreateIdAsync(user, Email(await SeedDatasetAsync(api, _user)));

        var (status, problem) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/leads?{query}");

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal([parameter], ErrorKeys(problem));
    }

    [Fact]
    public async Task Reports_every_bad_list_parameter_at_once()
    {
        var user = api.ClientFor(_user);

        var (status, problem) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{Guid.NewGuid()}/leads?limit=0&cursor=x&status=done");

        Assert.Equal(400, status);
        Assert.Equal(["cursor", "limit", "status"], ErrorKeys(problem));
    }

    [Fact]
    public async Task Another_users_campaign_answers_404_exactly_as_a_missing_one_and_a_worker_403()
    {
        var (owner, campaignId) = await LaunchedAsync(2, Email);
        var stranger = api.ClientFor(Guid.NewGuid());
        var missing = Guid.NewGuid();

        foreach (var path in new[] { "leads", "leads/1" })
        {
            var (status, problem) = await SendAsync(stranger, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/{path}");
            var (missingStatus, missingProblem) = await SendAsync(owner, HttpMethod.Get, $"/api/v1/campaigns/{missing}/{path}");
            Assert.Equal((404, 404), (status, missingStatus));
            Assert.Equal($"Campaign {campaignId} was not found.", (string)problem["detail"]!);
            Assert.Equal($"Campaign {missing} was not found.", (string)missingProblem["detail"]!);
            Assert.Equal(200, (await SendAsync(owner, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/{path}")).Status);
            Assert.Equal(403, (await SendAsync(api.WorkerClient(), HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/{path}")).Status);
        }
    }

    [Fact]
    public async Task A_lead_shows_every_action_it_had_oldest_first_with_its_lease_and_outcome()
    {
        var worker = api.WorkerClient("email-worker-7");
        var (user, campaignId) = await LaunchedAsync(1, datasetId => Email(datasetId).With("alias_ids", Aliases(1))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1));
        Assert.Empty((await LeadAsync(user, campaignId, 1))["actions"]!.AsArray());

        var first = Assert.Single(await LeaseAsync(worker));
        var leased = await LeadAsync(user, campaignId, 1);
        var open = Assert.Single(leased["actions"]!.AsArray())!.AsObject();
        Assert.Equal(ActionFields, open.Select(field => field.Key).Order());
        Assert.Equal(("active", "a-1"), ((string)leased["status"]!, (string)leased["sender"]!));
        Assert.Equal(((string)first["action_id"]!, 1, 1, "email", "a-1", "leased", "email-worker-7", 1),
            ((string)open["action_id"]!, (int)open["step"]!, (int)open["attempt"]!, (string)open["channel"]!, (string)open["sender_id"]!,
                (string)open["state"]!, (string)open["worker"]!, (int)open["times_leased"]!));
        Assert.Equal(first["lease_expires_at"].At(), open["lease_expires_at"].At());
        Assert.All(["variant", "outcome", "detail", "provider_reference", "occurred_at", "reported_at"], field => Assert.Null(open[field]));

        var (reported, _) = await SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{first["action_id"]}/outcome", new JsonObject
        {
            ["lease_token"] = (string)first["lease_token"]!, ["outcome"] = "sent", ["detail"] = "250 queued", ["provider_reference"] = "msg-1",
            ["occurred_at"] = "2026-01-02T03:04:05+01:00",
        });
        Assert.Equal(200, reported);
        api.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        var second = Assert.Single(await LeaseAsync(worker));
        var (released, answer) = await ReleaseAsync(worker, second);
        Assert.Equal(200, released);

        var lead = await LeadAsync(user, campaignId, 1);
        Assert.Equal(("active", 2, "sent", "a-1"), ((string)lead["status"]!, (int)lead["current_step"]!, (string)lead["last_outcome"]!, (string)lead["sender"]!));
        Assert.Equal(answer["next_action_at"].At(), lead["next_action_at"].At());
        var actions = lead["actions"]!.AsArray().Select(action => action!.AsObject()).ToList();
        Assert.Equal([(string)first["action_id"]!, (string)second["action_id"]!], actions.Select(action => (string)action["action_id"]!));
        var closed = actions[0];
        Assert.Equal(("closed", "sent", "250 queued", "msg-1", "2026-01-02T02:04:05Z"),
            ((string)closed["state"]!, (string)closed["outcome"]!, (string)closed["detail"]!, (string)closed["provider_reference"]!, (string)closed["occurred_at"]!));
        Assert.EndsWith("Z", (string)closed["reported_at"]!);
        var given = actions[1];
        Assert.Equal(ActionFields, given.Select(field => field.Key).Order());
        Assert.Equal((2, 1, "released", (string)second["variant"]!["label"]!), ((int)given["step"]!, (int)given["attempt"]!, (string)given["state"]!, (string)given["variant"]!));
        Assert.Null(given["outcome"]);
        Assert.Null(given["reported_at"]);
    }

    [Fact]
    public async Task A_linkedin_lead_takes_the_campaigns_account_as_sender_with_its_first_action()
    {
        var worker = api.WorkerClient();
        var account = Guid.NewGuid();
        var (user, campaignId) = await LaunchedAsync(1, datasetId => Linkedin(datasetId).With("connected_account_id", account.ToString()));
        Assert.Null((await LeadAsync(user, campaignId, 1))["sender"]);

        var lease = Assert.Single(await LeaseAsync(worker, "linkedin"));

        var lead = await LeadAsync(user, campaignId, 1);
        Assert.Equal(account.ToString(), (string)lead["sender"]!);
        var action = Assert.Single(lead["actions"]!.AsArray())!;
        Assert.Equal(((string)lease["action_id"]!, "linkedin", account.ToString()),
            ((string)action["action_id"]!, (string)action["channel"]!, (string)action["sender_id"]!));
    }

    [Fact]
    public async Task A_row_with_no_lead_answers_404_naming_the_row_and_campaign()
    {
        var (user, campaignId) = await LaunchedAsync(2, Email);

        var (status, problem) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/leads/3");

        Assert.Equal(404, status);
        Assert.Equal($"Lead 3 of campaign {campaignId} was not found.", (string)problem["detail"]!);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("%2B1")]
    [InlineData("99999999999")]
    public async Task A_row_number_that_is_not_a_whole_number_from_1_is_400_naming_it(string row)
    {
        var (user, campaignId) = (api.ClientFor(_user), Guid.NewGuid());

        var (status, problem) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/leads/{row}");

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal(["row_number"], ErrorKeys(problem));
    }
}
