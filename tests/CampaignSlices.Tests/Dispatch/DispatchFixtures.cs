using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Tests.Infrastructure;
using CampaignSlices.Tests.Webhooks;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>The service with a clock the test moves ahead (and which keeps running), and a sweep every fraction of a second.</summary>
public class DispatchFactory : ApiFactory
{
    public ShiftedClock Clock { get; } = new();

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Dispatch:SweepInterval"] = "00:00:00.5",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Clock));
    }

    /// <summary>A channel worker's client: a token with the dispatch scope naming <paramref name="worker"/>.</summary>
    public HttpClient WorkerClient(string worker = "worker-1")
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", Auth.IssueWorkerToken(TokenSettings, worker, TimeSpan.FromHours(1)));
        return client;
    }
}

/// <summary>Campaigns that run, and a worker's side of the dispatch API.</summary>
public static class DispatchFixtures
{
    /// <summary>
    /// Every day, a window around the time now (UTC) on <paramref name="clock"/> (the real clock when omitted): whatever the
    /// hour a test runs at, its leads are in the schedule. The window opens at the minute two hours before.
    /// </summary>
    public static JsonObject AlwaysOpen(this JsonObject campaign, TimeProvider? clock = null)
    {
        var now = (clock ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        return campaign
            .With("send_days", new JsonArray("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
            .With("sending_window_start", now.AddHours(-2).ToString("HH:mm"))
            .With("sending_window_end", now.AddHours(6).ToString("HH:mm"))
            .With("min_interval_seconds", 60);
    }

    /// <summary>An email campaign over <paramref name="leads"/> complete rows, launched and active.</summary>
    public static async Task<Guid> LaunchAsync(ApiFactory api, HttpClient user, Guid userId, JsonObject body)
    {
        var campaignId = await CreateIdAsync(user, body);
        var (status, launched) = await SendAsync(user, HttpMethod.Post, $"/api/v1/campaigns/{campaignId}/launch");
        Assert.True(status == 202, $"launch answered {status}: {launched.ToJsonString()}");
        await WaitForStatusAsync(user, campaignId, "active");
        return campaignId;
    }

    public static async Task<List<JsonObject>> LeaseAsync(HttpClient worker, string channel = "email", int max = 50, int? waitSeconds = null,
        int? leaseSeconds = null)
    {
        var body = new JsonObject { ["channel"] = channel, ["max"] = max };
        if (waitSeconds is not null)
            body["wait_seconds"] = waitSeconds;
        if (leaseSeconds is not null)
            body["lease_seconds"] = leaseSeconds;
        var (status, answer) = await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/leases", body);
        Assert.True(status == 200, $"lease answered {status}: {answer.ToJsonString()}");
        return answer["items"]!.AsArray().Select(item => item!.AsObject()).ToList();
    }

    public static Task<(int Status, JsonObject Body)> ReportAsync(HttpClient worker, JsonObject lease, string outcome = "sent") =>
        SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{lease["action_id"]}/outcome",
            new JsonObject { ["lease_token"] = (string)lease["lease_token"]!, ["outcome"] = outcome });

    /// <summary>A service of its own over a new database, or over <paramref name="connectionString"/> as one of several replicas.</summary>
    public static async Task<DispatchFactory> StartAsync(string connectionString = "")
    {
        var factory = new DispatchFactory { ConnectionString = connectionString };
        await factory.InitializeAsync();
        return factory;
    }

    public static string WireDay(DayOfWeek day) => day.ToString()[..3].ToLowerInvariant();

    public static JsonArray EveryDay() => DaysExcept();

    /// <summary>The week without <paramref name="left"/>, as send_days.</summary>
    public static JsonArray DaysExcept(params DayOfWeek[] left) =>
        new(Enum.GetValues<DayOfWeek>().Except(left).Select(day => (JsonNode)WireDay(day)).ToArray());

    /// <summary>alias_ids a-1 .. a-<paramref name="count"/>.</summary>
    public static JsonArray Aliases(int count) => new(Enumerable.Range(1, count).Select(i => (JsonNode)$"a-{i}").ToArray());

    public static async Task<JsonObject> PatchAsync(HttpClient user, Guid campaignId, JsonObject changes)
    {
        var (status, answer) = await SendAsync(user, HttpMethod.Patch, $"/api/v1/campaigns/{campaignId}", changes);
        Assert.True(status == 200, $"PATCH answered {status}: {answer.ToJsonString()}");
        return answer;
    }

    public static async Task<JsonObject> LifecycleAsync(HttpClient user, Guid campaignId, string action)
    {
        var (status, answer) = await SendAsync(user, HttpMethod.Post, $"/api/v1/campaigns/{campaignId}/{action}");
        Assert.True(status == 200, $"{action} answered {status}: {answer.ToJsonString()}");
        return answer;
    }

    /// <summary>A lead as the dispatcher keeps it.</summary>
    public sealed class LeadState
    {
        public int RowNumber { get; init; }
        public string Status { get; init; } = "";
        public int CurrentStep { get; init; }
        public int Attempt { get; init; }
        public DateTimeOffset? NextActionAt { get; init; }
        public string? StopReason { get; init; }
        public Guid? OpenActionId { get; init; }
    }

    public static async Task<Dictionary<int, LeadState>> LeadsAsync(ApiFactory api, Guid campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return (await db.QueryAsync<LeadState>("""
                select row_number, status, current_step, attempt, next_action_at, stop_reason, open_action_id
                from leads where campaign_id = @campaignId
                """, new { campaignId }))
            .ToDictionary(lead => lead.RowNumber);
    }

    public static List<string> ActionIds(IEnumerable<JsonObject> leases) => [.. leases.Select(lease => (string)lease["action_id"]!)];

    public static Task<(int Status, JsonObject Body)> HeartbeatAsync(HttpClient worker, JsonObject lease, int? leaseSeconds = null) =>
        SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{lease["action_id"]}/heartbeat",
            new JsonObject { ["lease_token"] = (string)lease["lease_token"]!, ["lease_seconds"] = leaseSeconds });

    public static Task<(int Status, JsonObject Body)> ReleaseAsync(HttpClient worker, JsonObject lease, int? delaySeconds = null) =>
        SendAsync(worker, HttpMethod.Post, $"/api/v1/dispatch/actions/{lease["action_id"]}/release",
            new JsonObject { ["lease_token"] = (string)lease["lease_token"]!, ["delay_seconds"] = delaySeconds });

    /// <summary>
    /// Every campaign still dispatching is cancelled behind the API's back, so that a test's leases see only the
    /// campaigns it launches itself (a test class shares one database and one worker-facing queue).
    /// </summary>
    public static async Task RetireCampaignsAsync(ApiFactory api)
    {
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("update campaigns set status = 'cancelled' where status in ('active', 'draining')");
    }

    /// <summary>A lead's dispatch columns as stored.</summary>
    public sealed record StoredLead(string Status, int CurrentStep, string Channel, int Attempt, Guid? OpenActionId, DateTimeOffset? EarliestAt,
        DateTimeOffset? NextActionAt, string? LastOutcome);

    public static async Task<StoredLead> LeadAsync(ApiFactory api, Guid campaignId, int row)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.QuerySingleAsync<StoredLead>("""
            select status, current_step, channel, attempt, open_action_id, earliest_at, next_action_at, last_outcome
            from leads where campaign_id = @campaignId and row_number = @row
            """, new { campaignId, row });
    }

    /// <summary>An action's state, outcome and worker as stored.</summary>
    public sealed record StoredAction(string State, string? Outcome, string? Worker, int TimesLeased);

    public static async Task<StoredAction> ActionAsync(ApiFactory api, JsonObject lease)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.QuerySingleAsync<StoredAction>("select state, outcome, worker, times_leased from actions where action_id = @id",
            new { id = Guid.Parse((string)lease["action_id"]!) });
    }

    /// <summary>Distinct alias ids alias-1..alias-<paramref name="count"/>: with min_interval_seconds 60, each alias leases once a minute.</summary>
    public static JsonArray AliasIds(int count) => new([.. Enumerable.Range(1, count).Select(i => (JsonNode)JsonValue.Create($"alias-{i}"))]);

    public static DateTimeOffset At(this JsonNode? timestamp) => DateTimeOffset.Parse((string)timestamp!, System.Globalization.CultureInfo.InvariantCulture);
}
