using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Dispatch;
using Dapper;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// attempts_per_second held against workers that lease calls as fast as they can: for each rate, on a fresh cluster and
/// fresh service processes, one voice campaign with more due calls than the run can use, workers (one per replica)
/// leasing up to 500 and reporting each call `completed` in one batch (in the background, while the next lease is asked
/// for), for a fixed time. The rate is read from the service's own lease times (lease_expires_at minus lease_seconds),
/// over the run's whole seconds from the first lease, so client latency does not move it; the densest window of the
/// rate's length is shown beside it. Beside them, the same worker over campaigns whose caps together are far above what
/// it can lease: what "as fast as it can" is.
/// </summary>
public static class CallRateBenchmark
{
    private const int LeaseSeconds = 600;
    private const int Max = 500;

    public static async Task RunAsync(string[] args)
    {
        var rates = OptionText(args, "--rates", "1,50,500").Split(',').Select(r => double.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var seconds = int.Parse(OptionText(args, "--seconds", "20"), CultureInfo.InvariantCulture);
        var replicaCounts = OptionText(args, "--replicas", "1,2").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var lines = new List<string>();
        foreach (var replicas in replicaCounts)
        {
            lines.Add($"call-rate: {replicas} replica(s), a worker on each leasing up to {Max} calls and reporting them in one batch alongside, {seconds} s per rate");
            Console.WriteLine(lines[^1]);
            // Each setting on a fresh cluster and fresh service processes, so no setting runs on what an earlier one left.
            foreach (var rate in rates)
                await WithServicesAsync(replicas, async (environment, services) =>
                {
                    await LaunchVoiceAsync(environment, services[0], rate, (int)Math.Ceiling(rate * (seconds + 5)) + 20, 1);
                    var run = await LeaseForAsync(services, seconds);
                    var achieved = run.CountFrom(run.First!.Value, seconds) / (double)seconds;
                    var window = CampaignPlans.CallRate.Of(rate).Window;
                    lines.Add($"  attempts_per_second {rate,5}: achieved {achieved,8:F2}/s = {achieved / rate:P1} of the setting; " +
                              $"densest {window.TotalSeconds:F0} s window {run.Densest(window)} calls (cap {Math.Round(rate * window.TotalSeconds)}); " +
                              $"lease p50 {run.LeaseP50:F1} ms; peak RSS {string.Join(" / ", services.Select(s => $"{s.PeakRssMegabytes():F0} MiB"))}");
                    Console.WriteLine(lines[^1]);
                });
            // The ceiling, with one replica: four campaigns at 500/s each, 2,000 calls a second allowed.
            if (replicas == 1)
                await WithServicesAsync(replicas, async (environment, services) =>
                {
                    await LaunchVoiceAsync(environment, services[0], 500, 500 * (seconds + 5), 4);
                    var unbounded = await LeaseForAsync(services, seconds);
                    lines.Add($"  ceiling (4 campaigns x 500/s allowed): {unbounded.CountFrom(unbounded.First!.Value, seconds) / (double)seconds,8:F0} calls/s leased");
                    Console.WriteLine(lines[^1]);
                });
        }
        Console.WriteLine();
        foreach (var line in lines)
            Console.WriteLine(line);
    }

    private static async Task WithServicesAsync(int replicas, Func<BenchEnvironment, List<ServiceUnderTest>, Task> run)
    {
        await using var environment = await BenchEnvironment.StartAsync();
        var services = new List<ServiceUnderTest>();
        try
        {
            for (var i = 0; i < replicas; i++)
                services.Add(await ServiceUnderTest.StartAsync(environment.ConnectionString));
            await run(environment, services);
        }
        finally
        {
            foreach (var service in services)
                await service.DisposeAsync();
        }
    }

    private static readonly Guid User = Guid.NewGuid();

    /// <summary><paramref name="campaigns"/> voice campaigns of <paramref name="leads"/> leads each, launched through the API and active with every lead due.</summary>
    private static async Task LaunchVoiceAsync(BenchEnvironment environment, ServiceUnderTest service, double rate, int leads, int campaigns)
    {
        await using var db = await environment.OpenAsync();
        var datasets = Enumerable.Range(0, campaigns).Select(_ => Guid.NewGuid()).ToArray();
        await db.ExecuteAsync("""
            insert into datasets (dataset_id, user_id, name, row_count, columns)
            select d, @user, 'calls ' || d, @leads, '{email,first_name,last_name,company,linkedin_url,phone}' from unnest(@datasets::uuid[]) as x (d);
            insert into dataset_rows (dataset_id, row_number, first_name, phone)
            select d, n, 'First' || n, '+1415' || lpad(n::text, 7, '0') from unnest(@datasets::uuid[]) as x (d), generate_series(1, @leads) n;
            """, new { user = User, datasets, leads }, commandTimeout: 0);
        using var client = service.ClientFor(User);
        var now = DateTime.UtcNow;
        var ids = new List<Guid>();
        foreach (var dataset in datasets)
        {
            var body = new JsonObject
            {
                ["dataset_id"] = dataset,
                ["name"] = $"Calls at {rate}/s",
                ["type"] = "voice",
                ["daily_limit"] = 10000,
                ["timezone"] = "UTC",
                ["send_days"] = new JsonArray("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                ["sending_window_start"] = now.AddHours(-2).ToString("HH:mm", CultureInfo.InvariantCulture),
                ["sending_window_end"] = now.AddHours(6).ToString("HH:mm", CultureInfo.InvariantCulture),
                ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "call" }),
                ["voice_config"] = new JsonObject
                {
                    ["app_id"] = "bench-agent",
                    ["attempts_per_second"] = rate,
                    ["connection_configs"] = new JsonArray(
                        new JsonObject { ["connection_id"] = "main", ["phone_numbers"] = new JsonArray("+14155550001", "+14155550002"), ["weight"] = 70 },
                        new JsonObject { ["connection_id"] = "spare", ["phone_numbers"] = new JsonArray("+14155550003"), ["weight"] = 30 }),
                },
            };
            using var created = await client.PostAsJsonAsync("/api/v1/campaigns", body);
            var id = Guid.Parse((string)(await Ok(created, "create"))["campaign_id"]!);
            using var launched = await client.PostAsync($"/api/v1/campaigns/{id}/launch", null);
            await Ok(launched, "launch");
            ids.Add(id);
        }
        var deadline = Stopwatch.StartNew();
        while (await db.ExecuteScalarAsync<long>("select count(*) from campaigns where campaign_id = any(@ids) and status = 'active'", new { ids = ids.ToArray() })
               < campaigns)
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(5))
                throw new InvalidOperationException("the voice campaigns did not become active within 5 minutes");
            await Task.Delay(200);
        }
    }

    /// <summary>The service-side lease times of every call leased, and each lease request's latency.</summary>
    private sealed record Run(List<DateTimeOffset> LeasedAt, List<double> LeaseMilliseconds)
    {
        public DateTimeOffset? First => LeasedAt.Count == 0 ? null : LeasedAt.Min();

        public int CountFrom(DateTimeOffset start, int seconds) => LeasedAt.Count(at => at >= start && at < start.AddSeconds(seconds));

        public int Densest(TimeSpan window)
        {
            var sorted = LeasedAt.Order().ToArray();
            var (densest, from) = (0, 0);
            for (var until = 0; until < sorted.Length; until++)
            {
                while (sorted[until] - sorted[from] >= window)
                    from++;
                densest = Math.Max(densest, until - from + 1);
            }
            return densest;
        }

        public double LeaseP50 => Measure.Percentile(LeaseMilliseconds.Order().ToArray(), 0.5);
    }

    /// <summary>One worker per replica, each leasing calls as fast as it can and reporting them, for <paramref name="seconds"/> after the first lease (and a second more).</summary>
    private static async Task<Run> LeaseForAsync(List<ServiceUnderTest> services, int seconds)
    {
        var leasedAt = new List<DateTimeOffset>();
        var latencies = new List<double>();
        var stopAt = new DateTimeOffset?[1];
        await Task.WhenAll(services.Select((service, index) => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(2) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceUnderTest.WorkerTokenFor($"telephony-{index}"));
            var leaseBody = new JsonObject { ["channel"] = "call", ["max"] = Max, ["lease_seconds"] = LeaseSeconds }.ToJsonString();
            var clock = new Stopwatch();
            var giveUp = Stopwatch.StartNew();
            var reports = new List<Task>();
            while (true)
            {
                lock (stopAt)
                    if (stopAt[0] is { } stop && DateTimeOffset.UtcNow > stop)
                        break;
                if (giveUp.Elapsed > TimeSpan.FromSeconds(seconds + 60))
                    throw new InvalidOperationException("no call was leased within a minute");
                clock.Restart();
                using var leased = await client.PostAsync("/api/v1/dispatch/leases", new StringContent(leaseBody, MediaTypeHeaderValue.Parse("application/json")));
                using var leases = await JsonDocument.ParseAsync(await OkStream(leased, "lease"));
                var elapsed = clock.Elapsed.TotalMilliseconds;
                var items = new JsonArray();
                var times = new List<DateTimeOffset>();
                foreach (var lease in leases.RootElement.GetProperty("items").EnumerateArray())
                {
                    times.Add(lease.GetProperty("lease_expires_at").GetDateTimeOffset().AddSeconds(-LeaseSeconds));
                    items.Add(new JsonObject
                    {
                        ["action_id"] = lease.GetProperty("action_id").GetString(),
                        ["lease_token"] = lease.GetProperty("lease_token").GetString(),
                        ["outcome"] = "completed",
                        ["duration_seconds"] = 60,
                    });
                }
                lock (stopAt)
                {
                    leasedAt.AddRange(times);
                    latencies.Add(elapsed);
                    if (stopAt[0] is null && times.Count > 0)
                        stopAt[0] = DateTimeOffset.UtcNow.AddSeconds(seconds + 1);
                }
                // Reported while the next lease is already asked for: the calls "happen" without holding the worker back.
                if (items.Count > 0)
                    reports.Add(ReportAsync(client, items));
            }
            await Task.WhenAll(reports);
        })));
        return new Run(leasedAt, latencies);
    }

    private static async Task ReportAsync(HttpClient client, JsonArray items)
    {
        using var reported = await client.PostAsync("/api/v1/dispatch/outcomes",
            new StringContent(new JsonObject { ["items"] = items }.ToJsonString(), MediaTypeHeaderValue.Parse("application/json")));
        await Ok(reported, "outcomes");
    }

    private static async Task<Stream> OkStream(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadAsStreamAsync();
    }

    private static async Task<JsonObject> Ok(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonObject>() ?? [];
    }

    private static string OptionText(string[] args, string name, string fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }
}
