using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Operations;

/// <summary>With OTEL_EXPORTER_OTLP_ENDPOINT set, the service pushes traces, metrics and logs to that collector over OTLP.</summary>
public sealed class OtlpExportTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Traces_metrics_and_logs_reach_the_collector()
    {
        var ct = TestContext.Current.CancellationToken;
        var received = new ConcurrentQueue<(string Signal, string Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/v1/{signal}", async (string signal, HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct);
            // Protobuf keeps strings as UTF-8 bytes: names and messages can be found in the body as it is.
            received.Enqueue((signal, Encoding.UTF8.GetString(body.ToArray())));
            return Results.Ok();
        });
        await collector.StartAsync(ct);

        await using var api = new ApiFactory
        {
            ReplicaSettings = new Dictionary<string, string?>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Urls.Single(),
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
                ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
                ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            },
        };
        await api.InitializeAsync();
        var worker = api.AnonymousClient();
        worker.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", Auth.IssueWorkerToken(ApiFactory.TokenSettings, "otlp-worker", TimeSpan.FromHours(1)));
        var (status, answer) = await SendAsync(worker, HttpMethod.Post, "/api/v1/dispatch/leases", new JsonObject { ["channel"] = "email", ["max"] = 1 });
        Assert.True(status == 200, answer.ToJsonString());

        // The request's span, the claim's own span inside it, its statements' spans and the scheduler's.
        string[] traced = ["Microsoft.AspNetCore", "/api/v1/dispatch/leases", Telemetry.ActivitySourceName, "dispatch.claim", "Npgsql", "Quartz"];
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline && !(Has("traces", traced) && Has("metrics", ["http.server.request.duration"]) && Has("logs", ["answered"])))
            await Task.Delay(200, ct);
        foreach (var name in traced)
            Assert.True(Has("traces", [name]), $"no span of {name} arrived");
        Assert.True(Has("metrics", ["http.server.request.duration"]), "no HTTP server metric arrived");
        Assert.True(Has("logs", ["answered"]), "no log of the lease arrived");

        bool Has(string signal, string[] names) =>
            names.All(name => received.Any(export => export.Signal == signal && export.Body.Contains(name, StringComparison.Ordinal)));
    }
}
