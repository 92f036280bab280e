using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>GET …/preflight (docs/preflight-and-launch.md): each warning code on a small crafted dataset, blocking or not, the limit and the summary.</summary>
public sealed class PreflightTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    /// <summary>A campaign body, the rows of its dataset, and the rows that must carry the code (and nothing else).</summary>
    private sealed record Case(Func<Guid, JsonObject> Campaign, Lead[] Leads, int[] Flagged, string Field, bool Blocking);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["missing_email"] = new(Email,
            [Complete(1), new(2, FirstName: "Bo"), new(3, " \t ", "Cy"), Complete(4)], [2, 3], "email", Blocking: true),
        ["invalid_email"] = new(Email,
            [Complete(1), new(2, "bo-at-example.com", "Bo"), new(3, "bo@example", "Bo"), new(4, "b o@example.com", "Bo"),
             new(5, "bo@@example.com", "Bo"), new(6, " six@example.com ", "Six")], [2, 3, 4, 5], "email", Blocking: true),
        // Only the later rows are duplicates; case and surrounding spaces do not make an address different.
        ["duplicate_email"] = new(Email,
            [new(1, "ann@example.com", "Ann"), new(2, "  ANN@Example.COM ", "Ann"), Complete(3), new(4, "Ann@example.com\t", "Ann")],
            [2, 4], "email", Blocking: true),
        ["missing_linkedin_url"] = new(Linkedin,
            [Complete(1), new(2, FirstName: "Bo"), new(3, FirstName: "Cy", LinkedinUrl: " ")], [2, 3], "linkedin_url", Blocking: true),
        ["invalid_linkedin_url"] = new(Linkedin,
            [Complete(1), new(2, FirstName: "Bo", LinkedinUrl: "https://www.linkedin.com/company/acme"),
             new(3, FirstName: "Cy", LinkedinUrl: "https://example.com/in/cy"), new(4, FirstName: "Di", LinkedinUrl: "https://www.linkedin.com/in/"),
             new(5, FirstName: "Ed", LinkedinUrl: "not a url"),
             new(6, FirstName: "Fay", LinkedinUrl: "linkedin.com/in/Fay-Lo"), new(7, FirstName: "Gus", LinkedinUrl: "http://uk.linkedin.com/in/gus/"),
             new(8, FirstName: "Hal", LinkedinUrl: "https://www.linkedin.com/in/hal-ng?originalSubdomain=uk")],
            [2, 3, 4, 5], "linkedin_url", Blocking: true),
        ["missing_phone"] = new(Voice,
            [Complete(1), new(2, FirstName: "Bo"), new(3, FirstName: "Cy", Phone: "  ")], [2, 3], "phone", Blocking: true),
        ["invalid_phone"] = new(Voice,
            [Complete(1), new(2, Phone: "4155550123"), new(3, Phone: "+0155550123"), new(4, Phone: "+1 415 555 0123"),
             new(5, Phone: "+1234567890123456"), new(6, Phone: "+1"), new(7, Phone: " +442071838750 ")],
            [2, 3, 4, 5, 6], "phone", Blocking: true),
        // The first step's template says {{first_name}}: an empty value is worth a warning, not a reason to skip the lead.
        ["missing_placeholder"] = new(Email,
            [Complete(1), new(2, "bo@example.com"), new(3, "cy@example.com", "\t "), Complete(4)], [2, 3], "first_name", Blocking: false),
    };

    [Theory]
    [InlineData("missing_email")]
    [InlineData("invalid_email")]
    [InlineData("duplicate_email")]
    [InlineData("missing_linkedin_url")]
    [InlineData("invalid_linkedin_url")]
    [InlineData("missing_phone")]
    [InlineData("invalid_phone")]
    [InlineData("missing_placeholder")]
    public async Task Each_code_is_raised_on_exactly_the_rows_that_earn_it(string code)
    {
        var @case = Cases[code];
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, @case.Leads);
        var campaign = await CreateIdAsync(client, @case.Campaign(dataset));

        var preflight = await PreflightAsync(client, campaign);

        Assert.Equal(@case.Flagged.Select(row => $"{row} {code} {@case.Field}"), Lines(preflight));
        Assert.All(preflight["warnings"]!.AsArray(), w => Assert.False(string.IsNullOrWhiteSpace((string?)w!["message"])));
        var summary = preflight["summary"]!;
        Assert.Equal(@case.Leads.Length, (int)summary["total_rows"]!);
        Assert.Equal(@case.Blocking ? @case.Leads.Length - @case.Flagged.Length : @case.Leads.Length, (int)summary["launchable_rows"]!);
        Assert.Equal(@case.Flagged.Length, (int)summary["warning_count"]!);
        Assert.Equal($$"""{"{{code}}":{{@case.Flagged.Length}}}""", summary["warnings_by_code"]!.ToJsonString());
    }

    [Fact]
    public async Task In_other_campaign_flags_profiles_enrolled_in_the_users_other_active_or_paused_linkedin_campaigns()
    {
        var client = api.ClientFor(_user);
        // Others' leads, each enrolled by a real launch; the same people are spelled differently in our dataset.
        await LaunchedAsync(client, Linkedin, new Lead(1, FirstName: "Ann", LinkedinUrl: "https://linkedin.com/in/ANN-LEE"));
        var paused = await LaunchedAsync(client, Linkedin, new Lead(1, FirstName: "Bo", LinkedinUrl: "https://www.linkedin.com/in/bo-ray"));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{paused}/pause")).Status);
        var cancelled = await LaunchedAsync(client, Linkedin, new Lead(1, FirstName: "Cy", LinkedinUrl: "https://www.linkedin.com/in/cy-dee"));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{cancelled}/cancel")).Status);
        var someoneElse = Guid.NewGuid();
        await LaunchedAsync(api.ClientFor(someoneElse), Linkedin, new Lead(1, FirstName: "Di", LinkedinUrl: "https://www.linkedin.com/in/di-fox"), someoneElse);
        await LaunchedAsync(client, Email, new Lead(1, "ed@example.com", "Ed", "https://www.linkedin.com/in/ed-gee"));

        var dataset = await SeedLeadsAsync(api, _user, [
            new(1, FirstName: "Ann", LinkedinUrl: "https://www.linkedin.com/in/Ann-Lee/"),
            new(2, FirstName: "Bo", LinkedinUrl: "linkedin.com/in/bo-ray"),
            new(3, FirstName: "Cy", LinkedinUrl: "https://www.linkedin.com/in/cy-dee"),
            new(4, FirstName: "Di", LinkedinUrl: "https://www.linkedin.com/in/di-fox"),
            new(5, FirstName: "Ed", LinkedinUrl: "https://www.linkedin.com/in/ed-gee"),
            new(6, FirstName: "Fay", LinkedinUrl: "https://www.linkedin.com/in/fay-lo"),
        ]);
        var skipping = await CreateIdAsync(client, Linkedin(dataset).With("skip_other_campaigns", true));
        var notSkipping = await CreateIdAsync(client, Linkedin(dataset));

        var preflight = await PreflightAsync(client, skipping);
        Assert.Equal(["1 in_other_campaign linkedin_url", "2 in_other_campaign linkedin_url"], Lines(preflight));
        Assert.Equal(4, (int)preflight["summary"]!["launchable_rows"]!);
        Assert.Empty(Lines(await PreflightAsync(client, notSkipping)));
    }

    [Fact]
    public async Task A_placeholder_in_the_signature_counts_only_when_it_names_the_leads_first_name()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [Complete(1), new(2, "bo@example.com")]);
        var body = Email(dataset).With("steps_config[0].message_template", "Hello there");
        var senderOnly = await CreateIdAsync(client, body.With("signature", "Best, %sender_first_name% %sender_last_name%"));
        var leadName = await CreateIdAsync(client, body.With("signature", "Thanks %first_name%, %sender_first_name%"));

        Assert.Empty(Lines(await PreflightAsync(client, senderOnly)));
        var preflight = await PreflightAsync(client, leadName);
        Assert.Equal(["2 missing_placeholder first_name"], Lines(preflight));
        Assert.Equal(2, (int)preflight["summary"]!["launchable_rows"]!);
    }

    [Fact]
    public async Task A_placeholder_naming_a_custom_column_reads_the_rows_attributes()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [
            Complete(1) with { Attributes = """{"city": "Paris"}""" },
            Complete(2) with { Attributes = """{"city": "  "}""" },
            Complete(3),
            Complete(4) with { Attributes = """{"other": "Lyon"}""" },
        ], "city", "other");
        var campaign = await CreateIdAsync(client, Email(dataset).With("steps_config[0].message_template", "See you in {{city}}, {{first_name}}"));

        var preflight = await PreflightAsync(client, campaign);

        Assert.Equal(["2 missing_placeholder city", "3 missing_placeholder city", "4 missing_placeholder city"], Lines(preflight));
        Assert.Equal("The placeholder {{city}} has no value on this row.", (string?)preflight["warnings"]![0]!["message"]);
        Assert.Equal(4, (int)preflight["summary"]!["launchable_rows"]!);
    }

    [Fact]
    public async Task A_row_carries_every_warning_it_earns_and_one_blocking_warning_makes_it_unlaunchable()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [Complete(1), new(2), new(3, "cy@example.com", LinkedinUrl: "https://example.com/cy")]);
        var mixed = Email(dataset).With("type", "mixed").With("connected_account_id", Guid.NewGuid()).With("steps_config", new JsonArray(
            new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" },
            new JsonObject { ["channel"] = "linkedin", ["action_type"] = "connection_request", ["delay_days"] = 1 }));
        var campaign = await CreateIdAsync(client, mixed);

        var preflight = await PreflightAsync(client, campaign);

        Assert.Equal([
            "2 missing_email email", "2 missing_linkedin_url linkedin_url", "2 missing_placeholder first_name",
            "3 invalid_linkedin_url linkedin_url", "3 missing_placeholder first_name",
        ], Lines(preflight));
        var summary = preflight["summary"]!;
        Assert.Equal(3, (int)summary["total_rows"]!);
        Assert.Equal(1, (int)summary["launchable_rows"]!);
        Assert.Equal(5, (int)summary["warning_count"]!);
    }

    [Fact]
    public async Task The_list_holds_the_first_warnings_by_row_number_up_to_the_limit_while_the_summary_counts_all()
    {
        var client = api.ClientFor(_user);
        // Stored in reverse, so the order in the answer is the query's doing.
        var dataset = await SeedLeadsAsync(api, _user, Enumerable.Range(1, 150).Reverse().Select(row => new Lead(row, FirstName: "Nobody")));
        var campaign = await CreateIdAsync(client, Email(dataset));

        var byDefault = await PreflightAsync(client, campaign);
        Assert.Equal(Enumerable.Range(1, 100), byDefault["warnings"]!.AsArray().Select(w => (int)w!["row_number"]!));
        Assert.Equal(150, (int)byDefault["summary"]!["warning_count"]!);
        Assert.Equal(150, (int)byDefault["summary"]!["warnings_by_code"]!["missing_email"]!);
        Assert.Equal(0, (int)byDefault["summary"]!["launchable_rows"]!);

        Assert.Equal(["1 missing_email email", "2 missing_email email", "3 missing_email email"],
            Lines(await PreflightAsync(client, campaign, "?warnings_limit=3")));
        Assert.Empty(Lines(await PreflightAsync(client, campaign, "?warnings_limit=0")));
        Assert.Equal(150, Lines(await PreflightAsync(client, campaign, "?warnings_limit=1000")).Length);
        foreach (var bad in new[] { "1001", "-1", "ten", "2.5", "" })
        {
            var (status, problem) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaign}/preflight?warnings_limit={bad}");
            Assert.True(status == 400, $"warnings_limit={bad} answered {status}");
            Assert.Equal(["warnings_limit"], ErrorKeys(problem));
        }
    }

    [Fact]
    public async Task An_empty_dataset_answers_zero_counts_and_no_warnings()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedDatasetAsync(api, _user)));

        var preflight = await PreflightAsync(client, campaign);

        Assert.Equal("""{"total_rows":0,"launchable_rows":0,"warning_count":0,"warnings_by_code":{}}""", preflight["summary"]!.ToJsonString());
        Assert.Empty(preflight["warnings"]!.AsArray());
    }

    [Fact]
    public async Task Preflight_writes_nothing()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 3)));
        var before = await GetAsync(client, campaign);

        await PreflightAsync(client, campaign);

        Assert.Equal(before.ToJsonString(), (await GetAsync(client, campaign)).ToJsonString());
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @campaign", new { campaign }));
        Assert.Empty(await EventsAsync(client, campaign));
    }

    [Fact]
    public async Task Another_users_campaign_answers_404()
    {
        var campaign = await CreateIdAsync(api.ClientFor(_user), Email(await SeedCompleteLeadsAsync(api, _user, 1)));

        var (status, _) = await SendAsync(api.ClientFor(), HttpMethod.Get, $"/api/v1/campaigns/{campaign}/preflight");

        Assert.Equal(404, status);
    }

    [Fact]
    public async Task Snapshot_of_a_preflight_body()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [
            new(1, "ann@example.com", "Ann"), new(2, FirstName: "Bo"), new(3, "cy(at)example.com", "Cy"),
            new(4, " ANN@example.com", "Ann"), new(5, "ed@example.com"), new(6),
        ]);
        var campaign = await CreateIdAsync(client, Email(dataset));

        var response = await client.GetAsync($"/api/v1/campaigns/{campaign}/preflight", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        var summary = JsonNode.Parse(text)!["summary"]!;
        Assert.Equal(6, (int)summary["total_rows"]!);
        Assert.Equal(2, (int)summary["launchable_rows"]!);
        Assert.Equal(6, (int)summary["warning_count"]!);
        Snapshot.Match(text, "preflight");
    }

    private static async Task<JsonObject> PreflightAsync(HttpClient client, Guid campaign, string query = "")
    {
        var (status, body) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaign}/preflight{query}");
        Assert.True(status == 200, $"preflight answered {status}: {body.ToJsonString()}");
        return body;
    }

    private static string[] Lines(JsonObject preflight) =>
        preflight["warnings"]!.AsArray().Select(w => $"{w!["row_number"]} {w["code"]} {w["field"]}").ToArray();

    /// <summary>A campaign of <paramref name="owner"/> launched for real over one lead, waited for until active.</summary>
    private async Task<Guid> LaunchedAsync(HttpClient client, Func<Guid, JsonObject> kind, Lead lead, Guid? owner = null)
    {
        var campaign = await CreateIdAsync(client, kind(await SeedLeadsAsync(api, owner ?? _user, [lead])));
        var (status, body) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");
        Assert.True(status == 202, body.ToJsonString());
        await WaitForStatusAsync(client, campaign, "active");
        return campaign;
    }
}
