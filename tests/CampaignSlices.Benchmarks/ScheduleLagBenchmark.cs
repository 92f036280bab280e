using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;
using Quartz;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// The lag from start_date to active (launched_at - start_date, both written by the service) for campaigns all
/// scheduled for the same second, beside bare Quartz on the same server: the service's own scheduler configuration
/// (clustered store, same schema and table prefix, same thread count) in a database of its own, firing as many one-shot
/// triggers for one second into a job that writes one row (lag: the row's time - the trigger's scheduled time).
/// </summary>
public static class ScheduleLagBenchmark
{
    private const int SetupWorkers = 4;

    /// <summary>A first batch on each side, as many as the scheduler has threads, not counted: the code paths run once before the measured batch.</summary>
    private const int WarmUp = 8;

    public static async Task RunAsync(string[] args)
    {
        var replicas = 1;
        var counts = new List<int>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--replicas")
                replicas = int.Parse(args[++i]);
            else
                counts.Add(int.Parse(args[i]));
        }
        if (counts.Count == 0)
            counts.Add(1000);

        foreach (var campaigns in counts)
        {
            await using var environment = await BenchEnvironment.StartAsync();
            var (service, rss) = await MeasureServiceAsync(environment, campaigns, replicas);
            var bare = await MeasureBareQuartzAsync(environment, campaigns);
            Console.WriteLine($"schedule-lag: {campaigns} due in the same second, {replicas} replica(s), scheduler threads as configured (default 8) on both sides");
            Console.WriteLine($"  service      {Summary(service)}  peak RSS {rss}");
            Console.WriteLine($"  bare Quartz  {Summary(bare)}");
            Console.WriteLine($"  p99 service / bare Quartz: {Measure.Percentile(service, 0.99) / Measure.Percentile(bare, 0.99):F2}");
        }
    }

    private static string Summary(double[] lags) =>
        $"p50 {Measure.Percentile(lags, 0.50),6:F0} ms  p99 {Measure.Percentile(lags, 0.99),6:F0} ms  max {lags[^1],6:F0} ms";

    /// <summary>The whole second <paramref name="ahead"/> from now at the latest, as the start both sides are due at.</summary>
    private static DateTimeOffset WholeSecondIn(TimeSpan ahead)
    {
        var at = DateTimeOffset.UtcNow + ahead;
        return new DateTimeOffset(at.Ticks - at.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    private static async Task<(double[] Lags, string PeakRss)> MeasureServiceAsync(BenchEnvironment environment, int campaigns, int replicas)
    {
        var services = new List<ServiceUnderTest>();
        try
        {
            for (var i = 0; i < replicas; i++)
                services.Add(await ServiceUnderTest.StartAsync(environment.ConnectionString));
            await MeasureServiceAsync(environment, services, WarmUp);
            var lags = await MeasureServiceAsync(environment, services, campaigns);
            return (lags, string.Join(" / ", services.Select(s => $"{s.PeakRssMegabytes():F0} MiB")));
        }
        finally
        {
            foreach (var service in services)
                await service.DisposeAsync();
        }
    }

    private static async Task<double[]> MeasureServiceAsync(BenchEnvironment environment, List<ServiceUnderTest> services, int campaigns)
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
        var startDate = WholeSecondIn(TimeSpan.FromSeconds(5 + campaigns / 20));
        var ids = new Guid[campaigns];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, SetupWorkers).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < campaigns; i = Interlocked.Increment(ref next))
                ids[i] = await CreateAndLaunchAsync(clients[i % clients.Count], datasetId, i, startDate);
        }));
        await CheckpointAsync(db);
        if (DateTimeOffset.UtcNow >= startDate)
            throw new InvalidOperationException("Setting up took past the start date; the lag would not be measured.");

        var deadline = startDate.AddMinutes(5);
        while (await db.ExecuteScalarAsync<int>("select count(*) from campaigns where campaign_id = any(@ids) and status = 'active'", new { ids }) < campaigns)
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new InvalidOperationException("Not every campaign became active within five minutes of its start date.");
            await Task.Delay(250);
        }
        foreach (var client in clients)
            client.Dispose();
        return (await db.QueryAsync<double>(
                "select extract(epoch from launched_at - start_date) * 1000 from campaigns where campaign_id = any(@ids)", new { ids }))
            .Order().ToArray();
    }

    private static async Task<Guid> CreateAndLaunchAsync(HttpClient client, Guid datasetId, int i, DateTimeOffset startDate)
    {
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
        return id;
    }

    /// <summary>
    /// Bare Quartz in this process, configured by the service's own <see cref="Scheduling.AddScheduling"/> (with the
    /// settings its defaults give a service run here) against a database of its own on the same server.
    /// </summary>
    private static async Task<double[]> MeasureBareQuartzAsync(BenchEnvironment environment, int triggers)
    {
        var database = await environment.CreateDatabaseAsync("bare_quartz");
        await using (var db = new NpgsqlConnection(database))
            await db.ExecuteAsync("""
                create schema quartz;
                create table fired (trigger_name text primary key, fired_at timestamptz not null);
                """);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(NpgsqlDataSource.Create(database));
        builder.Services.AddSingleton<System.Data.Common.DbDataSource>(sp => sp.GetRequiredService<NpgsqlDataSource>());
        builder.Services.AddTransient<WriteOneRowJob>();
        builder.AddScheduling();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var scheduler = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
            await using var db = new NpgsqlConnection(database);
            await FireBareBatchAsync(scheduler, db, "warm-up", WarmUp);
            return await FireBareBatchAsync(scheduler, db, "measured", triggers);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary><paramref name="triggers"/> one-shot triggers for one second, each its own job; their lags once all have written their row.</summary>
    private static async Task<double[]> FireBareBatchAsync(IScheduler scheduler, NpgsqlConnection db, string batch, int triggers)
    {
        // As the service's scheduled launch: a job of its own per trigger, recoverable, one shot, fired at once when missed.
        var due = WholeSecondIn(TimeSpan.FromSeconds(5 + triggers / 100));
        for (var i = 0; i < triggers; i++)
        {
            var job = JobBuilder.Create<WriteOneRowJob>().WithIdentity($"{batch}-{i}", "bare").RequestRecovery(true).Build();
            var trigger = TriggerBuilder.Create()
                .WithIdentity($"{batch}-{i}", "bare")
                .ForJob(job)
                .StartAt(due)
                .WithSimpleSchedule(schedule => schedule.WithRepeatCount(0).WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
                .Build();
            await scheduler.ScheduleJob(job, trigger);
        }
        await CheckpointAsync(db);
        if (DateTimeOffset.UtcNow >= due)
            throw new InvalidOperationException("Scheduling the bare triggers took past their time; the lag would not be measured.");

        var prefix = batch + "-%";
        var deadline = due.AddMinutes(5);
        while (await db.ExecuteScalarAsync<int>("select count(*) from fired where trigger_name like @prefix", new { prefix }) < triggers)
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new InvalidOperationException("Not every bare trigger fired within five minutes of its time.");
            await Task.Delay(250);
        }
        // Against the time they were given, not the context's scheduled time, which a misfire would move.
        return (await db.QueryAsync<double>("select extract(epoch from fired_at - @due) * 1000 from fired where trigger_name like @prefix",
                new { due = due.UtcDateTime, prefix }))
            .Order().ToArray();
    }

    /// <summary>
    /// Writes out what the setup (or the side measured before) left dirty, so that neither side's batch shares the
    /// server with a checkpoint of the other's writes. The setup waits for it: it comes before the due time.
    /// </summary>
    private static Task CheckpointAsync(NpgsqlConnection db) => db.ExecuteAsync("checkpoint", commandTimeout: 0, commandType: System.Data.CommandType.Text);

    /// <summary>The bare job: one row saying when it ran.</summary>
    private sealed class WriteOneRowJob(NpgsqlDataSource db) : IJob
    {
        public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await connection.ExecuteAsync(new CommandDefinition(
                "insert into fired (trigger_name, fired_at) values (@name, @now)", new { name = context.Trigger.Key.Name, now = DateTime.UtcNow },
                cancellationToken: ct));
        }
    }
}
