using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Tests.Infrastructure;
using CampaignSlices.Tests.Webhooks;
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
    /// <summary>Every day, a window around the real time now (UTC): whatever the hour a test runs at, its leads are in the schedule.</summary>
    public static JsonObject AlwaysOpen(this JsonObject campaign)
    {
        var now = DateTime.UtcNow;
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
}
