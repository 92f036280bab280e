using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.CampaignStates;
using static CampaignSlices.Tests.Campaigns.PatchRequests;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>PATCH beyond the status table (PatchRulesTests): equal values, nulls, validation, If-Match, concurrency, events.</summary>
public sealed class PatchCampaignTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    /// <summary>What the server keeps to itself (sending any of them is 400).</summary>
    private static readonly string[] ReadOnlyFields =
    [
        "campaign_id", "user_id", "status", "paused_reason", "total_leads", "processed_leads", "launch_job_id",
        "launch_requested_at", "launched_at", "launch_error", "created_at", "updated_at",
    ];

    private readonly Guid _user = Guid.NewGuid();

    // Equal values

    [Fact]
    public async Task Sending_the_whole_campaign_back_is_no_change_even_where_its_fields_are_locked()
    {
        var (client, campaign) = await InStatusAsync("active");
        var id = campaign["campaign_id"]!;
        var before = await GetAsync(client, id);
        var eventsBefore = (await EventsAsync(client, id)).Count;
        var whole = before.Body.DeepClone().AsObject();
        foreach (var field in ReadOnlyFields)
            whole.Remove(field);

        var patched = await PatchAsync(client, id, whole);

        Assert.True(patched.Status == 200, patched.Text);
        Assert.Equal(before.ETag, patched.ETag);
        var after = await GetAsync(client, id);
        Assert.True(JsonNode.DeepEquals(before.Body, after.Body), after.Text);
        Assert.Equal(before.ETag, after.ETag);
        Assert.Equal(eventsBefore, (await EventsAsync(client, id)).Count);
    }

    [Fact]
    public async Task An_active_voice_campaign_takes_its_whole_self_back_as_no_change_and_refuses_any_change()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLaunchableDatasetAsync(api, _user);
        var campaign = await CreateInStatusAsync(api, client, Voice(dataset), "active");
        var id = campaign["campaign_id"]!;
        var whole = campaign.DeepClone().AsObject();
        foreach (var field in ReadOnlyFields)
            whole.Remove(field);

        var same = await PatchAsync(client, id, whole);
        Assert.True(same.Status == 200, same.Text);
        Assert.Equal((await GetAsync(client, id)).ETag, same.ETag);

        var renamed = await PatchAsync(client, id, whole.With("name", "Renamed"));
        Assert.Equal(409, renamed.Status);
        Assert.Equal(["name"], ErrorKeys(renamed.Body));
    }

    [Fact]
    public async Task An_equal_locked_field_beside_a_changed_allowed_one_changes_only_the_allowed_one()
    {
        var (client, campaign) = await InStatusAsync("active");
        var id = campaign["campaign_id"]!;
        var before = await GetAsync(client, id);

        var patched = await PatchAsync(client, id, new JsonObject
        {
            ["steps_config"] = campaign["steps_config"]!.DeepClone(),
            ["type"] = "email",
            ["name"] = "Renamed while active",
        });

        Assert.True(patched.Status == 200, patched.Text);
        Assert.Equal("Renamed while active", (string?)patched.Body["name"]);
        Assert.Equal(Version(before) + 1, Version(patched));
        var updated = (await EventsAsync(client, id)).Last()!;
        Assert.Equal("updated", (string?)updated["type"]);
        Assert.Equal(["name"], FieldsOf(updated));
    }

    [Fact]
    public async Task A_changed_locked_field_is_409_naming_only_the_locked_fields_and_nothing_changes()
    {
        var (client, campaign) = await InStatusAsync("active");
        var id = campaign["campaign_id"]!;
        var before = await GetAsync(client, id);

        var patched = await PatchAsync(client, id, new JsonObject
        {
            ["name"] = "Allowed alone",
            ["open_tracking"] = true,
            ["stop_on_reply"] = true,
            ["signature"] = "Cheers, %sender_first_name%",
        });

        Assert.Equal(409, patched.Status);
        Assert.Equal("application/problem+json", patched.MediaType);
        Assert.Equal(["open_tracking", "signature"], ErrorKeys(patched.Body));
        Snapshot.Match(patched.Text, "locked-field-problem");
        var after = await GetAsync(client, id);
        Assert.True(JsonNode.DeepEquals(before.Body, after.Body), after.Text);
    }

    // Nulls, validation, unknown fields

    [Fact]
    public async Task An_explicit_null_clears_each_nullable_field()
    {
        var (client, campaign) = await DraftAsync(body => body
            .With("description", "To be cleared")
            .With("start_date", At(TimeSpan.FromDays(3)))
            .With("end_date", At(TimeSpan.FromDays(20)))
            .With("operating_hours", new JsonObject { ["tue"] = new JsonArray(new JsonObject { ["start"] = "10:00", ["end"] = "11:00" }) })
            .With("signature", "Regards")
            .With("webhook_config", new JsonObject { ["url"] = "https://hooks.example.com/x" })
            .With("system_prompt", new string('p', 120))
            .With("personalization_reviewed_at", At(TimeSpan.FromHours(-3)))
            .With("playground_discovery_dismissed_at", At(TimeSpan.FromHours(-4))));
        string[] cleared =
        [
            "description", "start_date", "end_date", "operating_hours", "signature", "webhook_config", "system_prompt",
            "personalization_reviewed_at", "playground_discovery_dismissed_at",
        ];
        Assert.All(cleared, field => Assert.NotNull(campaign[field]));

        var body = new JsonObject();
        foreach (var field in cleared)
            body[field] = null;
        var patched = await PatchAsync(client, campaign["campaign_id"]!, body);

        Assert.True(patched.Status == 200, patched.Text);
        var after = await GetAsync(client, campaign["campaign_id"]!);
        Assert.All(cleared, field =>
        {
            Assert.True(patched.Body.ContainsKey(field) && patched.Body[field] is null, $"{field} in {patched.Text}");
            Assert.True(after.Body.ContainsKey(field) && after.Body[field] is null, $"{field} in {after.Text}");
        });
    }

    [Theory]
    [InlineData("name")]
    [InlineData("type")]
    [InlineData("dataset_id")]
    [InlineData("launch_type")]
    [InlineData("daily_limit")]
    [InlineData("sending_window_start")]
    [InlineData("sending_window_end")]
    [InlineData("min_interval_seconds")]
    [InlineData("timezone")]
    [InlineData("send_days")]
    [InlineData("steps_config")]
    [InlineData("account_limits")]
    [InlineData("skip_other_campaigns")]
    [InlineData("stop_on_reply")]
    [InlineData("open_tracking")]
    [InlineData("unreviewed_launch_policy")]
    public async Task Null_for_a_required_field_is_400_naming_it_and_nothing_changes(string field)
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["name"] = "Would be fine", [field] = null });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal([field], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task An_empty_system_prompt_is_400()
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["system_prompt"] = "" });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal(["system_prompt"], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Theory]
    [InlineData("colour")]
    [InlineData("campaign_id")]
    [InlineData("status")]
    [InlineData("total_leads")]
    [InlineData("launched_at")]
    [InlineData("updated_at")]
    [InlineData("version")]
    public async Task An_unknown_or_read_only_field_is_400_naming_it(string field)
    {
        var (client, campaign) = await DraftAsync();
        var value = campaign.ContainsKey(field) ? campaign[field]?.DeepClone() : "blue";
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["name"] = "Would be fine", [field] = value });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal([field], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Theory]
    [InlineData("Name")]
    [InlineData("DAILY_LIMIT")]
    [InlineData("dailyLimit")]
    public async Task A_field_spelled_other_than_its_snake_case_name_is_unknown(string field)
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { [field] = field.StartsWith('N') ? "Other" : 5 });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal([field], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task A_repeated_key_is_400()
    {
        var (client, campaign) = await DraftAsync();
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/campaigns/{campaign["campaign_id"]}")
        {
            Content = new StringContent("""{"name":"First","name":"Second"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(400, (int)response.StatusCode);
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task An_unknown_field_inside_a_step_is_400_naming_its_path()
    {
        var (client, campaign) = await DraftAsync();
        var steps = campaign["steps_config"]!.DeepClone();
        steps[0]!["colour"] = "blue";
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["steps_config"] = steps });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal(["steps_config[0].colour"], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task Equal_values_spelled_differently_are_no_change_in_a_locked_status()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLaunchableDatasetAsync(api, _user);
        var create = Email(dataset)
            .With("start_date", At(TimeSpan.FromDays(1)))
            .With("account_limits", new JsonArray(Limit("alias-1", 9)));
        var campaign = await CreateInStatusAsync(api, client, create, "draining");
        var id = campaign["campaign_id"]!;
        // Set only now, so that the launch's status events post to no webhook; draining still allows it.
        var hooked = await PatchAsync(client, id, new JsonObject { ["webhook_config"] = new JsonObject { ["url"] = "https://hooks.example.com/x" } });
        Assert.True(hooked.Status == 200, hooked.Text);
        var before = await GetAsync(client, id);
        var startInBerlin = DateTimeOffset.Parse((string)campaign["start_date"]!).ToOffset(TimeSpan.FromHours(1)).ToString("yyyy-MM-dd'T'HH:mm:sszzz");

        var patched = await PatchAsync(client, id, new JsonObject
        {
            // As created: no step numbers or defaults; a repeated account collapsing to the stored limit; the start in another offset.
            ["steps_config"] = create["steps_config"]!.DeepClone(),
            ["account_limits"] = new JsonArray(Limit("alias-1", 3), Limit("alias-1", 9)),
            ["webhook_config"] = new JsonObject { ["url"] = "https://hooks.example.com/x" },
            ["start_date"] = startInBerlin,
            ["type"] = "email",
        });

        Assert.True(patched.Status == 200, patched.Text);
        Assert.Equal(before.ETag, patched.ETag);
    }

    [Fact]
    public async Task A_draft_whose_scheduled_start_has_passed_can_still_change_other_fields_but_not_keep_a_past_start()
    {
        var (client, campaign) = await DraftAsync(body => body.With("launch_type", "scheduled").With("start_date", At(TimeSpan.FromHours(1))));
        var id = campaign["campaign_id"]!;
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("update campaigns set start_date = now() - interval '1 hour' where campaign_id = @id",
                new { id = Guid.Parse((string)id!) });

        var renamed = await PatchAsync(client, id, new JsonObject { ["name"] = "Late but renamed" });
        Assert.True(renamed.Status == 200, renamed.Text);

        var past = await PatchAsync(client, id, new JsonObject { ["start_date"] = At(TimeSpan.FromMinutes(-5)) });
        Assert.True(past.Status == 400, past.Text);
        Assert.Equal(["start_date"], ErrorKeys(past.Body));

        var cleared = await PatchAsync(client, id, new JsonObject { ["start_date"] = null });
        Assert.True(cleared.Status == 400, cleared.Text);
        Assert.Equal(["start_date"], ErrorKeys(cleared.Body));
    }

    [Fact]
    public async Task Another_users_dataset_is_400()
    {
        var (client, campaign) = await DraftAsync();
        var foreign = await SeedDatasetAsync(api, Guid.NewGuid());
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["dataset_id"] = foreign.ToString() });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal(["dataset_id"], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task One_bad_value_beside_good_ones_changes_nothing()
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject
        {
            ["name"] = "Good name",
            ["description"] = "Good description",
            ["daily_limit"] = 0,
        });
        Assert.True(patched.Status == 400, patched.Text);
        Assert.Equal(["daily_limit"], ErrorKeys(patched.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task A_type_change_is_checked_against_the_merged_campaign()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;

        var alone = await PatchAsync(client, id, new JsonObject { ["type"] = "linkedin" });
        Assert.True(alone.Status == 400, alone.Text);
        Assert.Equal(["steps_config[0].channel", "steps_config[1].channel"], ErrorKeys(alone.Body));
        await AssertUnchangedAsync(client, campaign);

        var whole = await PatchAsync(client, id, new JsonObject
        {
            ["type"] = "linkedin",
            ["alias_ids"] = null,
            ["connected_account_id"] = Guid.NewGuid().ToString(),
            ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "linkedin", ["action_type"] = "profile_visit" }),
        });
        Assert.True(whole.Status == 200, whole.Text);
        Assert.Equal("linkedin", (string?)whole.Body["type"]);
    }

    [Fact]
    public async Task A_body_that_is_not_an_object_is_400()
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonArray(new JsonObject { ["name"] = "x" }));
        Assert.True(patched.Status == 400, patched.Text);
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task Another_users_campaign_is_404_and_untouched()
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(api.ClientFor(), campaign["campaign_id"]!, new JsonObject { ["name"] = "Not mine" });
        Assert.Equal(404, patched.Status);
        await AssertUnchangedAsync(client, campaign);
    }

    // If-Match, ETag, versions

    [Fact]
    public async Task If_match_with_the_current_etag_succeeds_and_the_answer_carries_the_next_one()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;
        var current = await GetAsync(client, id);
        Assert.Equal("\"1\"", current.ETag);

        var patched = await PatchAsync(client, id, new JsonObject { ["name"] = "Matched" }, ifMatch: current.ETag);

        Assert.True(patched.Status == 200, patched.Text);
        Assert.Equal("\"2\"", patched.ETag);
        Assert.Equal("\"2\"", (await GetAsync(client, id)).ETag);
    }

    [Fact]
    public async Task A_stale_if_match_is_a_412_problem_and_changes_nothing()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;
        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["name"] = "Moved on" })).Status);
        var moved = await GetAsync(client, id);

        var stale = await PatchAsync(client, id, new JsonObject { ["name"] = "From an old read" }, ifMatch: "\"1\"");

        Assert.Equal(412, stale.Status);
        Assert.Equal("application/problem+json", stale.MediaType);
        Assert.Equal(412, (int?)stale.Body["status"]);
        Assert.EndsWith("#section-15.5.13", (string?)stale.Body["type"]);
        Assert.Contains("\"2\"", (string?)stale.Body["detail"]);
        var after = await GetAsync(client, id);
        Assert.True(JsonNode.DeepEquals(moved.Body, after.Body), after.Text);
        Assert.Equal(moved.ETag, after.ETag);
    }

    [Theory]
    [InlineData("W/\"1\"", 412)]
    [InlineData("\"one\"", 412)]
    [InlineData("\"0\"", 412)]
    [InlineData("*", 200)]
    [InlineData("\"1\"", 200)]
    [InlineData("\"7\", \"1\"", 200)]
    [InlineData("\"7\", W/\"1\"", 412)]
    public async Task If_match_compares_strongly_and_a_star_matches_any_version(string ifMatch, int expected)
    {
        var (client, campaign) = await DraftAsync();
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject { ["name"] = "Conditional" }, ifMatch);
        Assert.True(patched.Status == expected, patched.Text);
        if (expected == 412)
            await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task Checks_run_body_first_then_if_match_then_locks_then_the_merged_campaign()
    {
        var (client, campaign) = await InStatusAsync("active");
        var id = campaign["campaign_id"]!;
        const string stale = "\"1\"";

        var badBody = await PatchAsync(client, id, new JsonObject { ["name"] = null, ["open_tracking"] = true }, stale);
        Assert.True(badBody.Status == 400, badBody.Text);
        Assert.Equal(["name"], ErrorKeys(badBody.Body));

        var staleLocked = await PatchAsync(client, id, new JsonObject { ["open_tracking"] = true }, stale);
        Assert.True(staleLocked.Status == 412, staleLocked.Text);

        var lockedAndOutOfRange = await PatchAsync(client, id, new JsonObject { ["open_tracking"] = true, ["daily_limit"] = 0 });
        Assert.True(lockedAndOutOfRange.Status == 409, lockedAndOutOfRange.Text);
        Assert.Equal(["open_tracking"], ErrorKeys(lockedAndOutOfRange.Body));

        var outOfRange = await PatchAsync(client, id, new JsonObject { ["daily_limit"] = 0 });
        Assert.True(outOfRange.Status == 400, outOfRange.Text);
        Assert.Equal(["daily_limit"], ErrorKeys(outOfRange.Body));
        await AssertUnchangedAsync(client, campaign);
    }

    [Fact]
    public async Task A_change_moves_the_version_and_updated_at_and_no_change_moves_neither()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;

        var changed = await PatchAsync(client, id, new JsonObject { ["daily_limit"] = 42 });
        Assert.Equal("\"2\"", changed.ETag);
        Assert.True(DateTimeOffset.Parse((string)changed.Body["updated_at"]!) > DateTimeOffset.Parse((string)campaign["updated_at"]!));

        var again = await PatchAsync(client, id, new JsonObject { ["daily_limit"] = 42 });
        Assert.True(again.Status == 200, again.Text);
        Assert.Equal("\"2\"", again.ETag);
        Assert.Equal((string?)changed.Body["updated_at"], (string?)again.Body["updated_at"]);

        var empty = await PatchAsync(client, id, new JsonObject());
        Assert.True(empty.Status == 200, empty.Text);
        Assert.Equal("\"2\"", empty.ETag);
    }

    // Concurrency

    [Fact]
    public async Task Of_two_patches_racing_with_the_same_if_match_one_wins_and_the_other_is_412()
    {
        for (var round = 0; round < 5; round++)
        {
            var (client, campaign) = await DraftAsync();
            var id = campaign["campaign_id"]!;
            var etag = (await GetAsync(client, id)).ETag;

            var answers = await Task.WhenAll(
                PatchAsync(client, id, new JsonObject { ["name"] = "First writer" }, etag),
                PatchAsync(client, id, new JsonObject { ["name"] = "Second writer" }, etag));

            Assert.Equal([200, 412], answers.Select(a => a.Status).Order());
            var winner = answers.Single(a => a.Status == 200);
            var after = await GetAsync(client, id);
            Assert.Equal((string?)winner.Body["name"], (string?)after.Body["name"]);
            Assert.Equal("\"2\"", after.ETag);
        }
    }

    [Fact]
    public async Task Parallel_patches_of_different_fields_without_if_match_all_survive()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;
        var changes = new JsonObject
        {
            ["name"] = "Parallel",
            ["description"] = "Written alongside eleven others",
            ["daily_limit"] = 321,
            ["min_interval_seconds"] = 900,
            ["timezone"] = "America/New_York",
            ["sending_window_start"] = "07:15",
            ["sending_window_end"] = "19:45",
            ["send_days"] = new JsonArray("tue", "thu"),
            ["stop_on_reply"] = false,
            ["open_tracking"] = true,
            ["signature"] = "Thanks, %sender_first_name%",
            ["unreviewed_launch_policy"] = "cancel",
        };

        var answers = await Task.WhenAll(changes.Select(change =>
            PatchAsync(client, id, new JsonObject { [change.Key] = change.Value?.DeepClone() })));

        Assert.All(answers, answer => Assert.True(answer.Status == 200, answer.Text));
        var after = await GetAsync(client, id);
        Assert.True(Holds(after.Body, changes), after.Text);
        Assert.Equal($"\"{1 + changes.Count}\"", after.ETag);
        var updates = (await EventsAsync(client, id)).Where(e => (string?)e!["type"] == "updated").ToList();
        Assert.Equal(changes.Select(c => c.Key).Order(), updates.SelectMany(FieldsOf).Order());
    }

    // Steps, account limits, events, the trigger

    [Fact]
    public async Task Replaced_steps_are_renumbered_by_position()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;
        var steps = new JsonArray(
            new JsonObject { ["step"] = 7, ["channel"] = "email", ["message_template"] = "One" },
            new JsonObject { ["step"] = 3, ["channel"] = "email", ["delay_hours"] = 5, ["message_template"] = "Two" },
            new JsonObject { ["step"] = 3, ["channel"] = "email", ["delay_days"] = 1, ["message_template"] = "Three" });

        var patched = await PatchAsync(client, id, new JsonObject { ["steps_config"] = steps });

        Assert.True(patched.Status == 200, patched.Text);
        foreach (var answer in new[] { patched, await GetAsync(client, id) })
        {
            var saved = answer.Body["steps_config"]!.AsArray();
            Assert.Equal([1, 2, 3], saved.Select(s => (int)s!["step"]!));
            Assert.Equal(["One", "Two", "Three"], saved.Select(s => (string)s!["message_template"]!));
        }
    }

    [Fact]
    public async Task A_repeated_account_keeps_its_last_limit_and_more_than_50_entries_are_400()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;

        var patched = await PatchAsync(client, id, new JsonObject
        {
            ["account_limits"] = new JsonArray(Limit("alias-1", 10), Limit("alias-2", 5), Limit("alias-1", 30)),
        });
        Assert.True(patched.Status == 200, patched.Text);
        var limits = patched.Body["account_limits"]!.AsArray().ToDictionary(l => (string)l!["account_id"]!, l => (int)l!["daily_limit"]!);
        Assert.Equal(new Dictionary<string, int> { ["alias-1"] = 30, ["alias-2"] = 5 }, limits);

        var tooMany = await PatchAsync(client, id, new JsonObject
        {
            ["account_limits"] = new JsonArray(Enumerable.Range(0, 51).Select(i => (JsonNode)Limit(i % 2 == 0 ? "alias-1" : "alias-2", 1 + i)).ToArray()),
        });
        Assert.True(tooMany.Status == 400, tooMany.Text);
        Assert.Equal(["account_limits"], ErrorKeys(tooMany.Body));
    }

    [Fact]
    public async Task Each_change_writes_an_updated_event_naming_its_fields_and_a_refused_or_empty_patch_writes_none()
    {
        var (client, campaign) = await DraftAsync();
        var id = campaign["campaign_id"]!;

        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["name"] = "Evented", ["daily_limit"] = 77, ["type"] = "email" })).Status);
        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["name"] = "Evented" })).Status);
        Assert.Equal(400, (await PatchAsync(client, id, new JsonObject { ["daily_limit"] = -1 })).Status);
        Assert.Equal(412, (await PatchAsync(client, id, new JsonObject { ["daily_limit"] = 78 }, "\"1\"")).Status);

        var events = await EventsAsync(client, id);
        var updated = Assert.Single(events, e => (string?)e!["type"] == "updated")!;
        Assert.Equal("draft", (string?)updated["from_status"]);
        Assert.Equal("draft", (string?)updated["to_status"]);
        Assert.Equal("user", (string?)updated["actor"]);
        Assert.Equal(["daily_limit", "name"], FieldsOf(updated).Order());
    }

    [Fact]
    public async Task A_schedule_change_on_an_active_campaign_is_recorded_for_re_timing_its_leads()
    {
        var (client, campaign) = await InStatusAsync("active");
        var id = campaign["campaign_id"]!;

        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["daily_limit"] = 55, ["name"] = "Slower" })).Status);
        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["description"] = "Not a schedule change" })).Status);

        var events = await EventsAsync(client, id);
        var scheduleChange = Assert.Single(events, e => (string?)e!["type"] == "schedule_changed")!;
        Assert.Equal(["daily_limit"], FieldsOf(scheduleChange));
        Assert.Equal("active", (string?)scheduleChange["to_status"]);
        Assert.Equal(2, events.Count(e => (string?)e!["type"] == "updated"));
    }

    [Theory]
    [InlineData("draft")]
    [InlineData("scheduled")]
    public async Task A_schedule_change_before_launch_is_an_update_only(string status)
    {
        var (client, campaign) = await InStatusAsync(status);
        var id = campaign["campaign_id"]!;
        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["timezone"] = "Asia/Tokyo" })).Status);
        var events = await EventsAsync(client, id);
        Assert.DoesNotContain(events, e => (string?)e!["type"] == "schedule_changed");
        Assert.Equal(["timezone"], FieldsOf(events.Last()!));
    }

    [Fact]
    public async Task A_schedule_change_of_a_paused_campaign_is_recorded_as_one_its_waiting_leads_follow()
    {
        var (client, campaign) = await InStatusAsync("paused");
        var id = campaign["campaign_id"]!;
        Assert.Equal(200, (await PatchAsync(client, id, new JsonObject { ["timezone"] = "Asia/Tokyo" })).Status);
        var scheduleChange = Assert.Single(await EventsAsync(client, id), e => (string?)e!["type"] == "schedule_changed")!;
        Assert.Equal(["timezone"], FieldsOf(scheduleChange));
        Assert.Equal("paused", (string?)scheduleChange["to_status"]);
        Assert.NotNull(scheduleChange["details"]!["retimed_leads"]);
    }

    [Fact]
    public async Task A_start_date_change_on_a_scheduled_campaign_moves_its_trigger()
    {
        var (client, campaign) = await InStatusAsync("scheduled");
        var id = campaign["campaign_id"]!;
        var newStart = At(TimeSpan.FromDays(5));
        Assert.NotEqual(NextFire(await TriggerTicksAsync(id)), DateTimeOffset.Parse(newStart));

        var patched = await PatchAsync(client, id, new JsonObject { ["start_date"] = newStart });

        Assert.True(patched.Status == 200, patched.Text);
        Assert.Equal(DateTimeOffset.Parse(newStart), NextFire(await TriggerTicksAsync(id)));

        var past = await PatchAsync(client, id, new JsonObject { ["start_date"] = At(TimeSpan.FromMinutes(-1)) });
        Assert.True(past.Status == 400, past.Text);
        Assert.Equal(DateTimeOffset.Parse(newStart), NextFire(await TriggerTicksAsync(id)));
    }

    [Fact]
    public async Task A_successful_patch_answers_the_whole_campaign()
    {
        var (client, campaign) = await DraftAsync(body => body.With("description", "Before"));
        var patched = await PatchAsync(client, campaign["campaign_id"]!, new JsonObject
        {
            ["name"] = "Autumn outreach",
            ["description"] = null,
            ["daily_limit"] = 250,
            ["send_days"] = new JsonArray("mon", "tue", "wed"),
            ["steps_config"] = new JsonArray(
                new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" },
                new JsonObject { ["step"] = 9, ["channel"] = "email", ["delay_days"] = 3, ["message_template"] = "Following up, {{first_name}}" }),
        });
        Assert.True(patched.Status == 200, patched.Text);
        Snapshot.Match(patched.Text, "patched-campaign");
    }

    private async Task<(HttpClient Client, JsonObject Campaign)> DraftAsync(Func<JsonObject, JsonObject>? shape = null)
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var body = Email(dataset);
        return (client, await CreateAsync(client, shape is null ? body : shape(body)));
    }

    private async Task<(HttpClient Client, JsonObject Campaign)> InStatusAsync(string status)
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLaunchableDatasetAsync(api, _user);
        return (client, await CreateInStatusAsync(api, client, Email(dataset), status));
    }

    private static async Task AssertUnchangedAsync(HttpClient client, JsonObject campaign)
    {
        var now = await GetAsync(client, campaign["campaign_id"]!);
        Assert.True(JsonNode.DeepEquals(campaign, now.Body), $"expected {campaign.ToJsonString()}, found {now.Text}");
        Assert.Equal(0, (await EventsAsync(client, campaign["campaign_id"]!)).Count(e => (string?)e!["type"] == "updated"));
    }

    private async Task<long> TriggerTicksAsync(JsonNode campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<long>(
            "select next_fire_time from quartz.qrtz_triggers where trigger_name = @name", new { name = $"launch-{campaignId}" });
    }

    private static DateTimeOffset NextFire(long ticks) => new(ticks, TimeSpan.Zero);

    private static string[] FieldsOf(JsonNode? updateEvent) =>
        updateEvent!["details"]!["fields"]!.AsArray().Select(f => (string)f!).ToArray();

    private static JsonObject Limit(string account, int dailyLimit) => new() { ["account_id"] = account, ["daily_limit"] = dailyLimit };

    private static int Version(Answer answer) => int.Parse(answer.ETag!.Trim('"'));
}
