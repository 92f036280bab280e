using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Npgsql;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Valid campaign bodies of each type, and the datasets they point at.</summary>
public static class CampaignFixtures
{
    public static async Task<Guid> SeedDatasetAsync(ApiFactory api, Guid userId, params string[] extraColumns)
    {
        var datasetId = Guid.NewGuid();
        await using var connection = await api.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(
            "insert into datasets (dataset_id, user_id, name, row_count, columns) values (@id, @user, 'leads', 0, @columns)", connection);
        command.Parameters.AddWithValue("id", datasetId);
        command.Parameters.AddWithValue("user", userId);
        command.Parameters.AddWithValue("columns", new[] { "email", "first_name", "last_name", "company", "linkedin_url", "phone" }.Concat(extraColumns).ToArray());
        await command.ExecuteNonQueryAsync();
        return datasetId;
    }

    public static JsonObject Email(Guid datasetId) => new()
    {
        ["dataset_id"] = datasetId,
        ["name"] = "Spring outreach",
        ["type"] = "email",
        ["alias_ids"] = new JsonArray("alias-1", "alias-2"),
        ["steps_config"] = new JsonArray(
            new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" },
            new JsonObject
            {
                ["channel"] = "email", ["delay_days"] = 2,
                ["variants"] = new JsonArray(
                    new JsonObject { ["label"] = "A", ["weight"] = 60, ["type"] = "template", ["template_id"] = Guid.NewGuid() },
                    new JsonObject { ["label"] = "B", ["weight"] = 40, ["type"] = "ai" }),
            }),
    };

    public static JsonObject Linkedin(Guid datasetId) => new()
    {
        ["dataset_id"] = datasetId,
        ["name"] = "LinkedIn push",
        ["type"] = "linkedin",
        ["connected_account_id"] = Guid.NewGuid(),
        ["steps_config"] = new JsonArray(
            new JsonObject { ["channel"] = "linkedin", ["action_type"] = "connection_request" },
            new JsonObject { ["channel"] = "linkedin", ["action_type"] = "message", ["delay_hours"] = 4, ["message_template"] = "Thanks {{first_name}}" }),
    };

    public static JsonObject Voice(Guid datasetId) => new()
    {
        ["dataset_id"] = datasetId,
        ["name"] = "Voice follow-up",
        ["type"] = "voice",
        ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "call" }),
        ["voice_config"] = new JsonObject
        {
            ["app_id"] = "agent-7",
            ["attempts_per_second"] = 2.5,
            ["connection_configs"] = new JsonArray(new JsonObject
            {
                ["connection_id"] = "twilio-main", ["phone_numbers"] = new JsonArray("+14155550123"), ["weight"] = 100,
            }),
            ["retry_config"] = new JsonObject
            {
                ["max_retries"] = 2,
                ["retry_interval_minutes"] = new JsonArray(30, 120),
                ["retry_on"] = new JsonObject
                {
                    ["busy"] = new JsonObject { ["enabled"] = true },
                    ["short_duration"] = new JsonObject { ["enabled"] = true, ["threshold_seconds"] = 10 },
                    ["provider_error"] = new JsonObject { ["enabled"] = true, ["max_retries"] = 3, ["retry_interval_minutes"] = 5 },
                },
            },
        },
    };

    public static async Task<JsonObject> CreateAsync(HttpClient client, JsonObject body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/campaigns", body, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"create answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<(int Status, JsonObject Body)> SendAsync(HttpClient client, HttpMethod method, string url, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
            request.Content = JsonContent.Create(body);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>
    /// Polls GET until the campaign reaches <paramref name="status"/>. The deadline only turns a broken
    /// job into a failure instead of a hang; it is not a timing assertion.
    /// </summary>
    public static async Task<JsonObject> WaitForStatusAsync(HttpClient client, string campaignId, string status)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(90);
        while (true)
        {
            var (code, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}");
            Assert.True(code == 200, $"GET answered {code}: {campaign.ToJsonString()}");
            if ((string?)campaign["status"] == status)
                return campaign;
            Assert.True(DateTimeOffset.UtcNow < deadline, $"campaign {campaignId} is still {campaign["status"]}, never {status}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    public static Task<JsonObject> WaitForStatusAsync(HttpClient client, Guid campaignId, string status) =>
        WaitForStatusAsync(client, campaignId.ToString(), status);

    /// <summary>The campaign's events, oldest first.</summary>
    public static async Task<List<JsonObject>> EventsAsync(HttpClient client, string campaignId)
    {
        var (code, events) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/events");
        Assert.True(code == 200, $"events answered {code}: {events.ToJsonString()}");
        return events["items"]!.AsArray().Select(e => e!.AsObject()).ToList();
    }

    public static Task<List<JsonObject>> EventsAsync(HttpClient client, Guid campaignId) => EventsAsync(client, campaignId.ToString());

    public static string[] ErrorKeys(JsonObject problem) =>
        problem["errors"]?.AsObject().Select(e => e.Key).Order().ToArray() ?? [];

    public static JsonObject With(this JsonObject body, string path, JsonNode? value)
    {
        var copy = body.DeepClone().AsObject();
        var parts = path.Split('.');
        JsonNode target = copy;
        foreach (var part in parts[..^1])
            target = Step(target, part);
        var last = parts[^1];
        if (target is JsonObject obj)
            obj[last] = value?.DeepClone();
        return copy;
    }

    public static JsonObject Without(this JsonObject body, string field)
    {
        var copy = body.DeepClone().AsObject();
        copy.Remove(field);
        return copy;
    }

    private static JsonNode Step(JsonNode node, string part)
    {
        var bracket = part.IndexOf('[');
        if (bracket < 0)
            return node[part]!;
        var name = part[..bracket];
        var index = int.Parse(part[(bracket + 1)..^1]);
        return node[name]![index]!;
    }

    public static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };
}
