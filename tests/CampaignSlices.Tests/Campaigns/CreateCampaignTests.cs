using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

public sealed class CreateCampaignTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    /// <summary>Every field of a campaign answer, in its documented order (docs/campaign-fields.md): each is always in a response, null when unset.</summary>
    public static readonly string[] ResponseFields =
    [
        "campaign_id", "user_id", "dataset_id", "name", "description", "type", "status", "launch_type", "start_date", "end_date",
        "daily_limit", "sending_window_start", "sending_window_end", "min_interval_seconds", "timezone", "send_days", "blackout_dates",
        "bounce_pause_percent", "operating_hours",
        "steps_config", "alias_ids", "account_limits", "connected_account_id", "skip_other_campaigns", "stop_on_reply", "open_tracking",
        "signature", "voice_config", "webhook_config", "system_prompt", "unreviewed_launch_policy", "personalization_reviewed_at",
        "playground_discovery_dismissed_at", "paused_reason", "total_leads", "processed_leads", "launch_job_id", "launch_requested_at",
        "launched_at", "launch_error", "created_at", "updated_at",
    ];

    [Fact]
    public async Task Creates_a_draft_with_defaults_and_location()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var response = await client.PostAsJsonAsync("/api/v1/campaigns", Email(dataset), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal($"/api/v1/campaigns/{body["campaign_id"]}", response.Headers.Location!.OriginalString);
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
        Assert.Equal(_user.ToString(), (string?)body["user_id"]);
        Assert.Equal(ResponseFields, body.Select(p => p.Key).ToArray());

        Assert.Equal("draft", (string?)body["status"]);
        Assert.Equal("immediate", (string?)body["launch_type"]);
        Assert.Equal(100, (int)body["daily_limit"]!);
        Assert.Equal("[]", body["blackout_dates"]!.ToJsonString());
        Assert.Equal(5, (double)body["bounce_pause_percent"]!);
        Assert.Equal("09:00", (string?)body["sending_window_start"]);
        Assert.Equal("17:00", (string?)body["sending_window_end"]);
        Assert.Equal(300, (int)body["min_interval_seconds"]!);
        Assert.Equal("UTC", (string?)body["timezone"]);
        Assert.Equal("""["mon","tue","wed","thu","fri"]""", body["send_days"]!.ToJsonString());
        Assert.Equal("[]", body["account_limits"]!.ToJsonString());
        Assert.False((bool)body["skip_other_campaigns"]!);
        Assert.True((bool)body["stop_on_reply"]!);
        Assert.False((bool)body["open_tracking"]!);
        Assert.Equal("launch_default", (string?)body["unreviewed_launch_policy"]);
        Assert.Equal(0, (int)body["total_leads"]!);
        Assert.Equal(0, (int)body["processed_leads"]!);
        Assert.Equal(body["created_at"]!.ToJsonString(), body["updated_at"]!.ToJsonString());
        Assert.EndsWith("Z", (string)body["created_at"]!);
        foreach (var unset in new[] { "description", "start_date", "end_date", "operating_hours", "connected_account_id", "signature",
                     "voice_config", "webhook_config", "system_prompt", "personalization_reviewed_at", "playground_discovery_dismissed_at",
                     "paused_reason", "launch_job_id", "launch_requested_at", "launched_at", "launch_error" })
            Assert.True(body.ContainsKey(unset) && body[unset] is null, unset);

        var first = body["steps_config"]![0]!.AsObject();
        Assert.Equal(1, (int)first["step"]!);
        Assert.Equal(0, (int)first["delay_days"]!);
        Assert.Equal(0, (int)first["delay_hours"]!);
        Assert.Equal(0, (int)first["delay_minutes"]!);
        Assert.Equal("[]", first["variants"]!.ToJsonString());
        Assert.False((bool)first["ai_personalization_enabled"]!);
        Assert.False((bool)first["track_clicks"]!);
        Assert.True(first.ContainsKey("action_type") && first["action_type"] is null);
        Assert.Equal(2, (int)body["steps_config"]![1]!["step"]!);
    }

    [Fact]
    public async Task A_known_column_is_a_valid_placeholder_even_when_the_dataset_was_imported_without_it()
    {
        var client = api.ClientFor(_user);
        var import = await client.PostAsync("/api/v1/datasets?name=emails-only",
            new StringContent("email\nann@example.com\n", System.Text.Encoding.UTF8, "text/csv"), TestContext.Current.CancellationToken);
        var dataset = JsonNode.Parse(await import.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["dataset_id"]!.GetValue<Guid>();

        var created = await CreateAsync(client, Email(dataset).With("steps_config[0].message_template", "Hi {{ first_name }}, {{company}}"));
        var (status, preflight) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{created["campaign_id"]}/preflight");

        Assert.Equal(200, status);
        Assert.Equal(["company", "first_name"], preflight["warnings"]!.AsArray().Select(w => (string)w!["field"]!).Order().ToArray());
        Assert.All(preflight["warnings"]!.AsArray(), w => Assert.Equal("missing_placeholder", (string?)w!["code"]));
        Assert.Equal(1, (int)preflight["summary"]!["launchable_rows"]!);

        var (unknown, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns",
            Email(dataset).With("steps_config[0].message_template", "Hi {{nickname}}"));
        Assert.Equal(400, unknown);
        Assert.Equal(["steps_config[0].message_template"], ErrorKeys(problem));
    }

    [Fact]
    public async Task A_full_create_response_matches_its_snapshot()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user, "favourite_color");
        var body = Email(dataset);
        body.Set("description", "Second touch for the spring list");
        body.Set("launch_type", "scheduled");
        body.Set("start_date", "2030-03-01T10:00:00+02:00");
        body.Set("end_date", "2030-04-01T00:00:00Z");
        body.Set("daily_limit", 250);
        body.Set("timezone", "Europe/Berlin");
        body.Set("operating_hours", JsonNode.Parse("""{"mon":[{"start":"09:00","end":"12:00"},{"start":"13:00","end":"17:00"}],"sat":[{"start":"10:00","end":"12:00"}]}"""));
        body.Set("account_limits", JsonNode.Parse("""[{"account_id":"alias-1","daily_limit":40},{"account_id":"alias-2","daily_limit":20},{"account_id":"alias-1","daily_limit":50}]"""));
        body.Set("open_tracking", true);
        body.Set("signature", "%sender_first_name% %sender_last_name%");
        body.Set("webhook_config", JsonNode.Parse("""{"url":"https://hooks.example.com/campaigns","metadata":{"account":"crm-42"}}"""));
        body.Set("system_prompt", "You write short, friendly follow-ups for a B2B audience. Keep it under 80 words and never invent facts about the lead.");
        body.Set("unreviewed_launch_policy", "hold");
        body.Set("steps_config[0].message_template", "Hi {{first_name}}, still into {{favourite_color}}?");
        body.Set("steps_config[1].track_clicks", true);
        body.Set("steps_config[1].ai_personalization_enabled", true);

        var response = await client.PostAsJsonAsync("/api/v1/campaigns", body, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await Snapshot.MatchAsync(response, "create-201");
    }

    [Theory]
    [InlineData("linkedin")]
    [InlineData("voice")]
    public async Task Creates_campaigns_of_every_type(string type)
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var body = type == "voice" ? Voice(dataset) : Linkedin(dataset);

        var created = await CreateAsync(client, body);

        Assert.Equal(type, (string?)created["type"]);
        Assert.Equal(ResponseFields, created.Select(p => p.Key).ToArray());
        if (type == "voice")
        {
            Assert.Equal("agent", (string?)created["voice_config"]!["app_type"]);
            Assert.Equal(body["voice_config"]!["connection_configs"]!.ToJsonString(), created["voice_config"]!["connection_configs"]!.ToJsonString());
            Assert.Null(created["voice_config"]!["retry_config"]!["retry_on"]!["failed"]);
        }
        else
        {
            Assert.Equal(body["connected_account_id"]!.GetValue<Guid>().ToString(), (string?)created["connected_account_id"]);
            Assert.Null(created["alias_ids"]);
            Assert.Equal("message", (string?)created["steps_config"]![1]!["action_type"]);
        }
    }

    [Fact]
    public async Task A_repeated_account_limit_keeps_its_last_value()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        body.Set("account_limits", JsonNode.Parse("""
            [{"account_id":"alias-1","daily_limit":10},{"account_id":"alias-2","daily_limit":20},{"account_id":"alias-1","daily_limit":30}]
            """));

        var created = await CreateAsync(client, body);

        var limits = created["account_limits"]!.AsArray().ToDictionary(l => (string)l!["account_id"]!, l => (int)l!["daily_limit"]!);
        Assert.Equal(new Dictionary<string, int> { ["alias-1"] = 30, ["alias-2"] = 20 }, limits);
    }

    [Fact]
    public async Task Step_numbers_follow_array_order_whatever_was_sent()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        body.Set("steps_config[0].step", 7);
        body.Set("steps_config[1].step", 1);

        var created = await CreateAsync(client, body);

        Assert.Equal([1, 2], created["steps_config"]!.AsArray().Select(s => (int)s!["step"]!).ToArray());
    }

    [Fact]
    public async Task Timestamps_with_an_offset_come_back_in_utc()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        body.Set("launch_type", "scheduled");
        body.Set("start_date", "2030-03-01T10:00:00+02:00");
        body.Set("end_date", "2030-03-02T10:30:00.125-05:00");

        var created = await CreateAsync(client, body);

        Assert.Equal("2030-03-01T08:00:00Z", (string?)created["start_date"]);
        Assert.Equal("2030-03-02T15:30:00.125Z", (string?)created["end_date"]);
    }

    [Theory]
    [InlineData("daily_limit", "100")]
    [InlineData("send_days", """["mon","tue","wed","thu","fri"]""")]
    [InlineData("stop_on_reply", "true")]
    [InlineData("launch_type", "\"immediate\"")]
    [InlineData("account_limits", "[]")]
    public async Task An_explicit_null_on_create_takes_the_default(string field, string expected)
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        body.Set(field, null);

        var created = await CreateAsync(client, body);

        Assert.Equal(expected, created[field]!.ToJsonString());
    }

    [Fact]
    public async Task Without_a_token_nothing_is_created()
    {
        var dataset = await SeedDatasetAsync(api, _user);

        var response = await api.AnonymousClient().PostAsJsonAsync("/api/v1/campaigns", Email(dataset), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await using var db = await api.OpenDatabaseAsync();
        await using var count = new Npgsql.NpgsqlCommand("select count(*) from campaigns where dataset_id = @dataset", db);
        count.Parameters.AddWithValue("dataset", dataset);
        Assert.Equal(0L, await count.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("type", "EMAIL")]
    [InlineData("launch_type", "Immediate")]
    [InlineData("steps_config[0].channel", "Email")]
    public async Task Enum_values_are_read_only_in_their_exact_lowercase_spelling(string path, string value)
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var (status, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", Email(dataset).With(path, value));
        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal([path], ErrorKeys(problem));
        Assert.StartsWith("Must be one of:", (string?)problem["errors"]![path]![0]);
    }
}
