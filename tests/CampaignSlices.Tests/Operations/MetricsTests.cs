using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Tests.Dispatch;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Operations;

/// <summary>The dispatcher's metrics as a worker's calls make them, and the Prometheus scrape that serves them.</summary>
public sealed class MetricsTests(DispatchFactory api) : IClassFixture<DispatchFactory>
{
    private static readonly TimeSpan PastLeaseAndPacing = TimeSpan.FromMinutes(11);

    /// <summary>
    /// One lead leased for 10 s, its lease left to expire, leased again after the clock moved 11 minutes, then
    /// reported sent twice (the second a replay). Returns the lease that was reported.
    /// </summary>
    private async Task<System.Text.Json.Nodes.JsonObject> LeaseExpireLeaseAgainAndReportAsync()
    {
        await RetireCampaignsAsync(api);
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", AliasIds(1)));

        Assert.Single(await LeaseAsync(worker, leaseSeconds: 10));
        api.Clock.Advance(PastLeaseAndPacing);
        var again = Assert.Single(await LeaseAsync(worker, leaseSeconds: 60));
        for (var report = 0; report < 2; report++)
        {
            var (status, answer) = await ReportAsync(worker, again);
            Assert.True(status == 200, answer.ToJsonString());
        }
        return again;
    }

    [Fact]
    public async Task The_dispatchers_instruments_count_leases_expiries_lag_and_new_outcomes_only()
    {
        // Only this service's meter: the test process runs other services, each with its own.
        var meters = api.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DispatchMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meters))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            measurements.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        await LeaseExpireLeaseAgainAndReportAsync();

        double Sum(string instrument) => measurements.Where(m => m.Instrument == instrument).Sum(m => m.Value);
        Assert.All(measurements, m => Assert.Equal("email", m.Tags["channel"]));
        Assert.Equal(2, Sum("dispatch.actions.leased"));
        Assert.Equal(1, Sum("dispatch.lease.expiries"));
        var outcome = Assert.Single(measurements, m => m.Instrument == "dispatch.outcomes");
        Assert.Equal((1d, "sent"), (outcome.Value, outcome.Tags["outcome"]));
        // The second lease came 11 minutes after the first, whose expiry 10 s in was the lead's due time.
        var lags = measurements.Where(m => m.Instrument == "dispatch.lease.lag").Select(m => m.Value).ToList();
        Assert.Equal(2, lags.Count);
        Assert.InRange(lags[1], PastLeaseAndPacing.TotalSeconds - 10, PastLeaseAndPacing.TotalSeconds + 120);
    }

    [Fact]
    public async Task The_scrape_answers_without_a_token_in_the_prometheus_format()
    {
        await LeaseExpireLeaseAgainAndReportAsync();

        var response = await api.AnonymousClient().GetAsync("/metrics", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var lines = text.Split('\n');
        foreach (var series in new[]
                 {
                     "dispatch_actions_leased_total{", "dispatch_lease_expiries_total{", "dispatch_lease_lag_seconds_bucket{",
                 })
            Assert.Contains(lines, line => line.StartsWith(series, StringComparison.Ordinal) && line.Contains("channel=\"email\""));
        Assert.Contains(lines, line => line.StartsWith("dispatch_outcomes_total{", StringComparison.Ordinal)
            && line.Contains("channel=\"email\"") && line.Contains("outcome=\"sent\""));
        Assert.Contains(lines, line => line.StartsWith("# TYPE dispatch_actions_leased_total counter", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("http_server_request_duration_seconds_bucket{", StringComparison.Ordinal)
            && line.Contains("http_route=\"/api/v1/dispatch/leases\""));
    }
}
