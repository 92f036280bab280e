using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// The lag from start_date to active (launched_at - start_date, both written by the service)
/// for campaigns all scheduled for the same second, with one replica and with two on one database.
/// </summary>
public static class ScheduleLagBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var campaigns = args.Length > 0 ? int.Parse(args[0]) : 100;
        foreach (var replicas in new[] { 1, 2 })
        {
            await using var environment = await BenchEnvironment.StartAsync();
            var services = new List<ServiceUnderTest>();
            for (var i = 0; i < replicas; i++)
                services.Add(await ServiceUnderTest.StartAsync(environment.ConnectionString));
            try
            {
                var lags = await MeasureAsync(environment, services, campaigns);
                Console.WriteLine($"schedule-lag: {campaigns} campaigns due in the same second, {replicas} replica(s): " +
                                  $"p50 {Measure.Percentile(lags, 0.50):F0} ms  p99 {Measure.Percentile(lags, 0.99):F0} ms  max {lags[^1]:F0} ms  " +
                                  $"peak RSS {string.Join(" / ", services.Select(s => $"{s.PeakRssMegabytes():F0} MiB"))}");
            }
            finally
            {
                foreach (var service in services)
                    await service.DisposeAsync();
            }
        }
    }

    private static async Task<double[]> MeasureAsync(BenchEnvironment environment, List<ServiceUnderTest> services, int campaigns)
    {
        var user = Guid.NewGuid();
        var datasetId = Guid.NewGuid();
        await using var db = await environment.OpenAsync();
        await db.ExecuteAsync("""
            insert into datasets (dataset_id, user_id, name, row_count, columns)
            values (@datasetId, @user, 'leads', 50, '{email,first_name,last_name,company,linkedin_url,phone}');
            insert into dataset_rows (dataset_id, row_number, email, first_name)
            select @datasetId, n, 'lead' || n || '@example.com', 'Lead' from generate_series(1, 50) n;
            """, new { datasetId, user });

        var clients = services.Select(s => s.ClientFor(user)).ToList();
        // Far enough ahead for every campaign to be created and launched first.
        var startDate = DateTimeOffset.UtcNow.AddSeconds(15 + campaigns / 10);
        startDate = new DateTimeOffset(startDate.Ticks - startDate.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var ids = new List<Guid>();
        for (var i = 0; i < campaigns; i++)
        {
            var client = clients[i % clients.Count];
            var body = new JsonObject
            {
                ["dataset_id"] = datasetId,
                ["name"] = $"Scheduled {i}",
                ["type"] = "email",
                ["alias_ids"] = new JsonArray("alias-1"),
                ["launch_type"] = "scheduled",
                ["start_date"] = startDate.ToString("O"),
                ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" }),
            };
            using var created = await client.PostAsJsonAsync("/api/v1/campaigns", body);
            created.EnsureSuccessStatusCode();
            var id = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["campaign_id"]!);
            using var launched = await client.PostAsync($"/api/v1/campaigns/{id}/launch", null);
            if (!launched.IsSuccessStatusCode)
                throw new InvalidOperationException($"launch answered {(int)launched.StatusCode}: {await launched.Content.ReadAsStringAsync()}");
            ids.Add(id);
        }
        if (DateTimeOffset.UtcNow >= startDate)
            throw new InvalidOperationException("Setting up took past the start date; the lag would not be measured.");

        var deadline = startDate.AddMinutes(5);
        while (await db.ExecuteScalarAsync<int>("select count(*) from campaigns where campaign_id = any(@ids) and status = 'active'", new { ids = ids.ToArray() }) < campaigns)
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new InvalidOperationException("Not every campaign became active within five minutes of its start date.");
            await Task.Delay(250);
        }
        foreach (var client in clients)
            client.Dispose();
        return (await db.QueryAsync<double>(
                "select extract(epoch from launched_at - start_date) * 1000 from campaigns where campaign_id = any(@ids)", new { ids = ids.ToArray() }))
            .Order().ToArray();
    }
}
