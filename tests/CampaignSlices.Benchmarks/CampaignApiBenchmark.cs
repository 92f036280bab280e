using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// GET one campaign (and POST create) under concurrent load, beside the barest endpoint this stack allows
/// on the same machine, database and runtime settings: the ceiling. The two alternate over rounds.
/// </summary>
public static class CampaignApiBenchmark
{
    /// <summary>The ceiling's side table: for each campaign, the exact bytes the service answers for its GET.</summary>
    private const string CeilingTable = """
        create table bench_ceiling (campaign_id uuid primary key, body text not null);
        alter table bench_ceiling alter column body set storage plain;
        """;

    private const int Campaigns = 200;

    public static Task RunGetAsync(string[] args) => RunAsync(args, get: true, post: false);

    public static Task RunPostAsync(string[] args) => RunAsync(args, get: false, post: true);

    public static Task RunGetAndPostAsync(string[] args) => RunAsync(args, get: true, post: true);

    private sealed record Options(int Connections, TimeSpan Duration, int Rounds, TimeSpan WarmUp, string? Client)
    {
        public static Options Parse(string[] args)
        {
            var values = new Dictionary<string, string>();
            for (var i = 0; i + 1 < args.Length; i += 2)
                values[args[i].TrimStart('-')] = args[i + 1];
            int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
            return new Options(Int("connections", 32), TimeSpan.FromSeconds(Int("seconds", 5)), Int("rounds", 3),
                TimeSpan.FromSeconds(Int("warm-up", 5)), values.GetValueOrDefault("client"));
        }
    }

    private static async Task RunAsync(string[] args, bool get, bool post)
    {
        var options = Options.Parse(args);
        RequireOptimizedBuilds();
        var runtimeSettings = RequireSameRuntimeSettings();
        var load = LoadGenerator.Create(options.Client);

        await using var environment = await BenchEnvironment.StartAsync();
        await using var service = await ServiceUnderTest.StartAsync(environment.ConnectionString);
        var user = Guid.NewGuid();
        var datasetId = Guid.NewGuid();
        await using (var connection = await environment.OpenAsync())
            await connection.ExecuteAsync("""
                insert into datasets (dataset_id, user_id, name, row_count, columns)
                values (@datasetId, @user, 'leads', 0, '{email,first_name,last_name,company,linkedin_url,phone}')
                """, new { datasetId, user });
        using var client = service.ClientFor(user);

        var ids = new List<Guid>();
        for (var i = 0; i < Campaigns; i++)
            ids.Add(await CreateAsync(client, CreateBody(datasetId, $"Benchmark campaign {i}")));

        // The ceiling's text for each campaign is the service's own answer, byte for byte.
        await using (var connection = await environment.OpenAsync())
        {
            await connection.ExecuteAsync(CeilingTable);
            foreach (var id in ids)
                await connection.ExecuteAsync("insert into bench_ceiling (campaign_id, body) values (@id, @body)",
                    new { id, body = await client.GetStringAsync($"/api/v1/campaigns/{id}") });
            await connection.ExecuteAsync("vacuum analyze bench_ceiling");
            await connection.ExecuteAsync("vacuum analyze campaigns");
        }

        await using var ceiling = await ServiceUnderTest.StartHarnessModeAsync("ceiling", environment.ConnectionString, ids[0].ToString());
        using var ceilingClient = new HttpClient { BaseAddress = ceiling.Address };
        var serviceBytes = await client.GetByteArrayAsync($"/api/v1/campaigns/{ids[0]}");
        var ceilingBytes = await ceilingClient.GetByteArrayAsync($"/ceiling/{ids[0]}");
        if (!serviceBytes.AsSpan().SequenceEqual(ceilingBytes))
            throw new InvalidOperationException("the ceiling's body differs from the service's");
        int[] sizes;
        await using (var connection = await environment.OpenAsync())
            sizes = (await connection.QueryAsync<int>("select octet_length(body) from bench_ceiling")).Order().ToArray();

        Console.WriteLine($"runtime settings (both runtimeconfig.json): {runtimeSettings}");
        Console.WriteLine($"GET body: {sizes[0]}-{sizes[^1]} bytes (the same bytes from both sides; checked for one campaign)");
        Console.WriteLine($"load: {load.Description}, {options.Connections} connections, {options.Rounds} rounds of {options.Duration.TotalSeconds:F0} s each side, " +
                          $"after {options.WarmUp.TotalSeconds:F0} s warm-up each; {Environment.ProcessorCount} cores");

        var idle = Cpu.MachineTicks();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var idleAfter = Cpu.MachineTicks();
        Console.WriteLine($"machine before the load: {(double)(idleAfter.Busy - idle.Busy) / (idleAfter.Total - idle.Total):P0} busy over 3 s " +
                          "(other work on the machine takes cores from both sides)");

        var authorization = new Dictionary<string, string> { ["Authorization"] = $"Bearer {ServiceUnderTest.TokenFor(user)}" };
        if (get)
        {
            await CompareAsync("GET one campaign", environment, load, options,
                (ceiling, new LoadRequest(HttpMethod.Get, ids.Select(id => $"/ceiling/{id}").ToList(), authorization)),
                (service, new LoadRequest(HttpMethod.Get, ids.Select(id => $"/api/v1/campaigns/{id}").ToList(), authorization)));
        }
        if (post)
        {
            var body = CreateBody(datasetId, "Benchmark campaign").ToJsonString();
            await CompareAsync("POST create", environment, load, options,
                (ceiling, new LoadRequest(HttpMethod.Post, ["/ceiling"], authorization, body)),
                (service, new LoadRequest(HttpMethod.Post, ["/api/v1/campaigns"], authorization, body)));
        }
        Console.WriteLine($"peak RSS: service {service.PeakRssMegabytes():F0} MiB, ceiling {ceiling.PeakRssMegabytes():F0} MiB");
        Console.WriteLine($"GC threads after the load: service {ThreadsOf(service)}; ceiling {ThreadsOf(ceiling)}");
    }

    private sealed record Round(Measure.LoadResult Load, double ServerCpu, double PostgresCpu, double ClientCpu, double MachineBusy, double MachineBusySeconds)
    {
        /// <summary>What the rest of the machine (processes not in this benchmark) took meanwhile.</summary>
        public double OtherCpu => Math.Max(0, MachineBusySeconds - ServerCpu - PostgresCpu - ClientCpu);
    }

    /// <summary>Warm-up of each side, then rounds alternating ceiling and service; per-round figures, medians and where the CPU went.</summary>
    private static async Task CompareAsync(string title, BenchEnvironment environment, LoadGenerator load, Options options,
        (ServiceUnderTest Server, LoadRequest Request) ceiling, (ServiceUnderTest Server, LoadRequest Request) service)
    {
        async Task<Round> RunAsync((ServiceUnderTest Server, LoadRequest Request) side, TimeSpan duration)
        {
            var server = side.Server.CpuSeconds();
            var postgres = environment.PostgresCpuSeconds();
            var client = Cpu.SelfAndReapedChildrenSeconds();
            var machine = Cpu.MachineTicks();
            var result = await load.RunAsync(side.Server.Address, side.Request, options.Connections, duration);
            var machineAfter = Cpu.MachineTicks();
            side.Server.ThrowIfExited();
            return new Round(result, side.Server.CpuSeconds() - server, environment.PostgresCpuSeconds() - postgres,
                Cpu.SelfAndReapedChildrenSeconds() - client,
                (double)(machineAfter.Busy - machine.Busy) / (machineAfter.Total - machine.Total),
                (machineAfter.Busy - machine.Busy) / Cpu.TicksPerSecond);
        }

        await RunAsync(ceiling, options.WarmUp);
        await RunAsync(service, options.WarmUp);
        var ceilings = new List<Round>();
        var services = new List<Round>();
        for (var round = 0; round < options.Rounds; round++)
        {
            ceilings.Add(await RunAsync(ceiling, options.Duration));
            services.Add(await RunAsync(service, options.Duration));
        }

        Console.WriteLine($"{title}: ceiling {ceiling.Request.Method} {ceiling.Request.Paths[0]}, service {service.Request.Method} {service.Request.Paths[0]}");
        for (var round = 0; round < options.Rounds; round++)
        {
            Console.WriteLine($"  round {round + 1} ceiling {Describe(ceilings[round])}");
            Console.WriteLine($"  round {round + 1} service {Describe(services[round])}   ratio {services[round].Load.RequestsPerSecond / ceilings[round].Load.RequestsPerSecond:F2}");
        }
        var ceilingMedian = Median(ceilings);
        var serviceMedian = Median(services);
        Console.WriteLine($"  median  ceiling {ceilingMedian}");
        Console.WriteLine($"  median  service {serviceMedian}");
        Console.WriteLine($"  service / ceiling (medians): {serviceMedian.RequestsPerSecond / ceilingMedian.RequestsPerSecond:F2}  " +
                          $"(rounds {string.Join(", ", services.Zip(ceilings, (s, c) => (s.Load.RequestsPerSecond / c.Load.RequestsPerSecond).ToString("F2", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"  CPU per request over all rounds: ceiling {PerRequest(ceilings)}");
        Console.WriteLine($"                                   service {PerRequest(services)}");
        // With every core busy, throughput is the cores over what one request costs in CPU; this ratio is less moved
        // by other work on the machine than the req/s ratio (what other work takes is not in either side's cost).
        Console.WriteLine($"  ceiling / service CPU per request (server + postgres + client): {CpuPerRequest(ceilings) / CpuPerRequest(services):F2}");
        var rounds = ceilings.Concat(services).ToList();
        var others = rounds.Sum(r => r.OtherCpu) / rounds.Sum(r => r.MachineBusySeconds);
        if (others > 0.10)
            Console.WriteLine($"  NOT QUIET: other processes took {others:P0} of the busy CPU during the rounds; " +
                              "the req/s figures and their ratio move with that, the CPU per request much less");
    }

    private static string Describe(Round round) =>
        $"{round.Load}  CPU: server {round.ServerCpu:F1} s, postgres {round.PostgresCpu:F1} s, client {round.ClientCpu:F1} s, " +
        $"other processes {round.OtherCpu:F1} s; machine {round.MachineBusy:P0} busy";

    private static string PerRequest(List<Round> rounds)
    {
        var requests = rounds.Sum(r => (double)r.Load.Requests);
        double Micro(Func<Round, double> cpu) => rounds.Sum(cpu) / requests * 1e6;
        return $"server {Micro(r => r.ServerCpu),4:F0} µs + postgres {Micro(r => r.PostgresCpu),4:F0} µs + client {Micro(r => r.ClientCpu),4:F0} µs " +
               $"= {Micro(r => r.ServerCpu + r.PostgresCpu + r.ClientCpu),4:F0} µs";
    }

    private static double CpuPerRequest(List<Round> rounds) =>
        rounds.Sum(r => r.ServerCpu + r.PostgresCpu + r.ClientCpu) / rounds.Sum(r => (double)r.Load.Requests);

    private static Measure.LoadResult Median(List<Round> rounds) =>
        rounds.Select(r => r.Load).OrderBy(result => result.RequestsPerSecond).ElementAt(rounds.Count / 2);

    private static string ThreadsOf(ServiceUnderTest process) =>
        $"{process.ThreadsNamed(".NET Server GC")} server GC threads, {process.ThreadsNamed(".NET BGC")} background GC threads";

    /// <summary>Both the service and this harness (which runs the ceiling) must be Release builds.</summary>
    private static void RequireOptimizedBuilds()
    {
        foreach (var assembly in new[] { typeof(CampaignApiBenchmark).Assembly, typeof(Auth).Assembly })
            if (assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
                throw new InvalidOperationException($"{assembly.GetName().Name} is a Debug build: run with -c Release");
    }

    /// <summary>The GC and JIT settings of the service's runtimeconfig.json must be those of the ceiling's; returns them.</summary>
    private static string RequireSameRuntimeSettings()
    {
        static SortedDictionary<string, string> Settings(string file)
        {
            var properties = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, file)))!["runtimeOptions"]!["configProperties"]!.AsObject();
            return new SortedDictionary<string, string>(properties
                .Where(p => p.Key.StartsWith("System.GC.", StringComparison.Ordinal) || p.Key.StartsWith("System.Runtime.Tiered", StringComparison.Ordinal)
                            || p.Key.StartsWith("System.Threading.", StringComparison.Ordinal))
                .ToDictionary(p => p.Key, p => p.Value!.ToJsonString()));
        }
        var service = Settings("CampaignSlices.Api.runtimeconfig.json");
        var ceiling = Settings("CampaignSlices.Benchmarks.runtimeconfig.json");
        var described = string.Join(", ", service.Select(p => $"{p.Key}={p.Value}"));
        if (!service.SequenceEqual(ceiling))
            throw new InvalidOperationException($"runtime settings differ: service {described}; ceiling {string.Join(", ", ceiling.Select(p => $"{p.Key}={p.Value}"))}");
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(name => name.StartsWith("DOTNET_", StringComparison.Ordinal) || name.StartsWith("COMPlus_", StringComparison.Ordinal)).Order().ToList();
        return (described.Length == 0 ? "defaults" : described) +
               (environment.Count == 0 ? "" : $"; inherited by both: {string.Join(", ", environment)}");
    }

    private static JsonObject CreateBody(Guid datasetId, string name) => new()
    {
        ["dataset_id"] = datasetId,
        ["name"] = name,
        ["type"] = "email",
        ["alias_ids"] = new JsonArray("alias-1", "alias-2"),
        ["steps_config"] = new JsonArray(
            new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}, a note about {{company}}." },
            new JsonObject { ["channel"] = "email", ["delay_days"] = 3, ["message_template"] = "Following up, {{first_name}}." }),
    };

    private static async Task<Guid> CreateAsync(HttpClient client, JsonObject body)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/campaigns", body);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"create answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var created = await response.Content.ReadFromJsonAsync<JsonObject>();
        return Guid.Parse((string)created!["campaign_id"]!);
    }

    /// <summary>
    /// The ceiling (`ceiling` mode, a process of its own): WebApplication.CreateSlimBuilder, no logging
    /// providers, no auth, no JSON serialisation. GET /ceiling/{id} runs one query by primary key on
    /// bench_ceiling and writes the text it returns; POST /ceiling reads the request body, runs one INSERT
    /// of a copy of the template campaign's row (every column, a new id and timestamps) and writes the
    /// template's body.
    /// </summary>
    public static async Task RunCeilingAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args[2..]);
        builder.Logging.ClearProviders();
        // The service's own Npgsql settings (no reset on return to the pool, automatic preparation), so
        // neither side does work the other is spared.
        await using var dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(args[0]) { NoResetOnClose = true, MaxAutoPrepare = 64 }.ConnectionString);
        var template = await RowTemplate.LoadAsync(dataSource, Guid.Parse(args[1]));
        var app = builder.Build();
        app.MapGet("/ready", () => Results.Ok());
        app.MapGet("/ceiling/{id:guid}", (RequestDelegate)(async context =>
        {
            var id = Guid.Parse((string)context.Request.RouteValues["id"]!);
            await using var command = dataSource.CreateCommand("select body from bench_ceiling where campaign_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            var body = (string?)await command.ExecuteScalarAsync(context.RequestAborted);
            if (body is null)
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            else
                await WriteJsonTextAsync(context.Response, StatusCodes.Status200OK, body);
        }));
        app.MapPost("/ceiling", (RequestDelegate)(async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            await using var command = template.InsertCommand(dataSource, Guid.CreateVersion7(), DateTime.UtcNow);
            await command.ExecuteNonQueryAsync(context.RequestAborted);
            await WriteJsonTextAsync(context.Response, StatusCodes.Status201Created, template.Body);
        }));
        Console.Error.WriteLine($"ceiling: server GC {System.Runtime.GCSettings.IsServerGC}, GC latency mode {System.Runtime.GCSettings.LatencyMode}");
        await app.RunAsync();
    }

    private static Task WriteJsonTextAsync(HttpResponse response, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = bytes.Length;
        return response.Body.WriteAsync(bytes).AsTask();
    }

    /// <summary>A campaign row read whole, to be inserted again as it is under a new id.</summary>
    private sealed record RowTemplate(string Sql, string[] Names, string[] Types, object[] Values, string Body)
    {
        public static async Task<RowTemplate> LoadAsync(NpgsqlDataSource dataSource, Guid campaignId)
        {
            await using var command = dataSource.CreateCommand("select c.*, b.body from campaigns c join bench_ceiling b using (campaign_id) where campaign_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync();
            if (!await reader.ReadAsync())
                throw new InvalidOperationException($"template campaign {campaignId} not found");
            var columns = reader.FieldCount - 1;
            var names = Enumerable.Range(0, columns).Select(reader.GetName).ToArray();
            var types = Enumerable.Range(0, columns).Select(reader.GetDataTypeName).ToArray();
            var values = Enumerable.Range(0, columns).Select(reader.GetValue).ToArray();
            var sql = $"insert into campaigns ({string.Join(", ", names)}) values ({string.Join(", ", names.Select((_, i) => $"${i + 1}"))})";
            return new RowTemplate(sql, names, types, values, reader.GetString(columns));
        }

        public NpgsqlCommand InsertCommand(NpgsqlDataSource dataSource, Guid campaignId, DateTime now)
        {
            var command = dataSource.CreateCommand(Sql);
            for (var i = 0; i < Names.Length; i++)
                command.Parameters.Add(new NpgsqlParameter
                {
                    DataTypeName = Types[i],
                    Value = Names[i] switch
                    {
                        "campaign_id" => campaignId,
                        "created_at" or "updated_at" => now,
                        _ => Values[i],
                    },
                });
            return command;
        }
    }
}
