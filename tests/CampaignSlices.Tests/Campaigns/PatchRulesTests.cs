using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.CampaignStates;
using static CampaignSlices.Tests.Campaigns.PatchRequests;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// Walks the PATCH table of docs/status-and-patch-rules.md through the API: a campaign in each status gets a PATCH of every field group,
/// and the answer must be what the table below (copied from the docs, not from src) says.
/// </summary>
public sealed class PatchRulesTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly string[] Statuses = ["draft", "scheduled", "active", "paused", "draining", "launching", "completed", "failed", "cancelled"];

    // The documented table, one line per field group; the row "launch_type, start_date" is split because scheduled allows start_date only.
    private static readonly Dictionary<string, string> EmailTable = new()
    {
        //                   draft scheduled active paused draining launching completed failed cancelled
        ["descriptive"]     = "yes   yes       yes    yes    yes      no        no        no     no",
        ["schedule"]        = "yes   yes       yes    yes    no       no        no        no     no",
        ["personalization"] = "yes   yes       yes    yes    no       no        no        no     no",
        ["launch_type"]     = "yes   no        no     no     no       no        no        no     no",
        ["start_date"]      = "yes   yes       no     no     no       no        no        no     no",
        ["sequence"]        = "yes   no        no     no     no       no        no        no     no",
    };

    // The same table for a voice campaign, which takes no change at all outside draft, scheduled and paused.
    private static readonly Dictionary<string, string> VoiceTable = new()
    {
        //                   draft scheduled active paused draining launching completed failed cancelled
        ["descriptive"]     = "yes   yes       no     yes    no       no        no        no     no",
        ["schedule"]        = "yes   yes       no     yes    no       no        no        no     no",
        ["personalization"] = "yes   yes       no     yes    no       no        no        no     no",
        ["launch_type"]     = "yes   no        no     no     no       no        no        no     no",
        ["start_date"]      = "yes   yes       no     no     no       no        no        no     no",
        ["sequence"]        = "yes   no        no     no     no       no        no        no     no",
        ["voice_config"]    = "yes   yes       no     yes    no       no        no        no     no",
    };

    public static TheoryData<string> AllStatuses => new(Statuses);

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public Task An_email_campaign_changes_or_locks_each_field_group_as_the_table_says(string status) => WalkAsync(status, voice: false);

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public Task A_voice_campaign_changes_or_locks_each_field_group_as_the_table_says(string status) => WalkAsync(status, voice: true);

    [Fact]
    public void The_tables_cover_every_status_and_the_same_groups()
    {
        Assert.All(EmailTable.Values.Concat(VoiceTable.Values), line => Assert.Equal(Statuses.Length, Cells(line).Length));
        Assert.Equal(EmailTable.Keys.Append("voice_config").Order(), VoiceTable.Keys.Order());
    }

    private async Task WalkAsync(string status, bool voice)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var dataset = await SeedLaunchableDatasetAsync(api, user);
        var otherDataset = await SeedLaunchableDatasetAsync(api, user);
        var create = (voice ? Voice(dataset) : Email(dataset)).With("start_date", At(TimeSpan.FromDays(1)));
        var campaign = await CreateInStatusAsync(api, client, create, status);
        var id = campaign["campaign_id"]!;
        var table = voice ? VoiceTable : EmailTable;
        var column = Array.IndexOf(Statuses, status);

        var mismatches = new List<string>();
        foreach (var (group, body) in GroupBodies(campaign, otherDataset, voice))
        {
            var allowed = Cells(table[group])[column] == "yes";
            var before = await GetAsync(client, id);
            var patched = await PatchAsync(client, id, body);
            var after = await GetAsync(client, id);
            var mismatch = allowed ? CheckChanged(body, before, patched, after) : CheckLocked(status, body, before, patched, after);
            if (mismatch is not null)
                mismatches.Add($"{group} in {status}: {mismatch}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    private static string? CheckChanged(JsonObject body, Answer before, Answer patched, Answer after)
    {
        if (patched.Status != 200)
            return $"expected 200, got {patched.Status}: {patched.Text}";
        if (!Holds(patched.Body, body))
            return $"the response lacks the change {body.ToJsonString()}: {patched.Text}";
        if (!Holds(after.Body, body))
            return $"a GET afterwards lacks the change {body.ToJsonString()}: {after.Text}";
        if (after.ETag != $"\"{Version(before) + 1}\"" || patched.ETag != after.ETag)
            return $"the version moved from {before.ETag} to {after.ETag} (the PATCH answered {patched.ETag}), not by one";
        return null;
    }

    private static string? CheckLocked(string status, JsonObject body, Answer before, Answer patched, Answer after)
    {
        if (patched.Status != 409)
            return $"expected 409, got {patched.Status}: {patched.Text}";
        var named = ErrorKeys(patched.Body);
        var sent = body.Select(field => field.Key).Order().ToArray();
        if (!named.SequenceEqual(sent))
            return $"the problem names [{string.Join(", ", named)}], not every field sent [{string.Join(", ", sent)}]";
        if ((string?)patched.Body["detail"] is not { } detail || !detail.Contains(status, StringComparison.Ordinal))
            return $"the problem does not name the status: {patched.Text}";
        if (!JsonNode.DeepEquals(before.Body, after.Body) || before.ETag != after.ETag)
            return $"the campaign changed anyway: {before.Text} became {after.Text}";
        return null;
    }

    /// <summary>For each group, a body changing every field of it to another valid value.</summary>
    private static IEnumerable<(string Group, JsonObject Body)> GroupBodies(JsonObject campaign, Guid otherDataset, bool voice)
    {
        yield return ("descriptive", new JsonObject
        {
            ["name"] = "Renamed",
            ["description"] = "Now with a description",
            ["webhook_config"] = new JsonObject { ["url"] = "https://hooks.example.com/campaigns", ["metadata"] = new JsonObject { ["crm"] = "42" } },
        });

        var schedule = new JsonObject
        {
            ["operating_hours"] = new JsonObject
            {
                ["mon"] = new JsonArray(Window("09:00", "12:00"), Window("13:00", "17:00")),
                ["wed"] = new JsonArray(Window("10:00", "16:00")),
            },
            ["sending_window_start"] = "08:30",
            ["sending_window_end"] = "18:00",
            ["send_days"] = new JsonArray("mon", "wed", "fri"),
            ["blackout_dates"] = new JsonArray("2030-12-25", "2030-12-26"),
            ["timezone"] = "Europe/Berlin",
            ["daily_limit"] = 250,
            ["min_interval_seconds"] = 600,
            ["end_date"] = At(TimeSpan.FromDays(30)),
        };
        // Per-sender limits belong to email senders only.
        if (!voice)
            schedule["account_limits"] = new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 20 });
        yield return ("schedule", schedule);

        yield return ("personalization", new JsonObject
        {
            ["system_prompt"] = "You write short, friendly outreach for a B2B audience. Keep to three sentences, "
                + "mention the lead's company and never promise a discount.",
            ["unreviewed_launch_policy"] = "hold",
            ["personalization_reviewed_at"] = At(TimeSpan.FromHours(-1)),
            ["playground_discovery_dismissed_at"] = At(TimeSpan.FromHours(-2)),
        });

        yield return ("launch_type", new JsonObject { ["launch_type"] = (string?)campaign["launch_type"] == "immediate" ? "scheduled" : "immediate" });
        yield return ("start_date", new JsonObject { ["start_date"] = At(TimeSpan.FromDays(2)) });

        var sequence = new JsonObject
        {
            ["dataset_id"] = otherDataset.ToString(),
            ["skip_other_campaigns"] = true,
            ["stop_on_reply"] = false,
            ["open_tracking"] = true,
            ["signature"] = "Best, %sender_first_name%",
        };
        if (voice)
            sequence["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "call" }, new JsonObject { ["channel"] = "call", ["delay_days"] = 1 });
        else
        {
            // email to mixed, with a LinkedIn step and its account: every field of the group at once.
            sequence["type"] = "mixed";
            sequence["steps_config"] = new JsonArray(
                new JsonObject { ["channel"] = "email", ["message_template"] = "Hello {{first_name}}" },
                new JsonObject { ["channel"] = "linkedin", ["action_type"] = "connection_request", ["delay_days"] = 1 });
            sequence["alias_ids"] = new JsonArray("alias-1", "alias-2", "alias-3");
            sequence["connected_account_id"] = Guid.NewGuid().ToString();
        }
        yield return ("sequence", sequence);

        if (voice)
        {
            var voiceConfig = campaign["voice_config"]!.DeepClone().AsObject();
            voiceConfig["attempts_per_second"] = 5;
            voiceConfig["connection_configs"]![0]!["phone_numbers"] = new JsonArray("+14155550123", "+14155550124");
            yield return ("voice_config", new JsonObject { ["voice_config"] = voiceConfig });
        }
    }

    private static JsonObject Window(string start, string end) => new() { ["start"] = start, ["end"] = end };

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static int Version(Answer answer) => int.Parse(answer.ETag!.Trim('"'));
}
