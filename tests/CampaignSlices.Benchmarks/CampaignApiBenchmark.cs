using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// Issue 3: GET one campaign and POST create under 32 concurrent connections, beside a bare endpoint that
/// reads the same row by primary key with Npgsql and returns it: the stack's ceiling on this machine.
/// </summary>
public static class CampaignApiBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var connections = args.Length > 0 ? int.Parse(args[0]) : 32;
        var duration = TimeSpan.FromSeconds(args.Length > 1 ? int.Parse(args[1]) : 10);
        var rounds = args.Length > 2 ? int.Parse(args[2]) : 3;
        var warmUp = TimeSpan.FromSeconds(5);

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
        for (var i = 0; i < 200; i++)
            ids.Add(await CreateAsync(client, datasetId, i));

        await using var ceiling = await ServiceUnderTest.StartHarnessModeAsync("bare-endpoint", environment.ConnectionString);
        using var bareClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = ceiling.Address };

        Task GetCampaign(int i) => Expect(client.GetAsync($"/api/v1/campaigns/{ids[i % ids.Count]}"));
        Task GetBare(int i) => Expect(bareClient.GetAsync($"/campaigns/{ids[i % ids.Count]}"));
        Task Create(int i) => CreateAsync(client, datasetId, i);

        // The ceiling and the GET alternate over several rounds: on a shared two-core machine either one
        // measured once can be off by a fifth.
        await Measure.LoadAsync(connections, warmUp, GetBare);
        await Measure.LoadAsync(connections, warmUp, GetCampaign);
        var bares = new List<Measure.LoadResult>();
        var gets = new List<Measure.LoadResult>();
        for (var round = 0; round < rounds; round++)
        {
            bares.Add(await Measure.LoadAsync(connections, duration, GetBare));
            gets.Add(await Measure.LoadAsync(connections, duration, GetCampaign));
        }
        await Measure.LoadAsync(connections, warmUp, Create);
        var create = await Measure.LoadAsync(connections, duration, Create);

        Console.WriteLine($"campaign-api: {connections} connections, {rounds} rounds of {duration.TotalSeconds:F0} s, after {warmUp.TotalSeconds:F0} s warm-up");
        for (var round = 0; round < rounds; round++)
        {
            Console.WriteLine($"  round {round + 1}: bare Npgsql read by id  {bares[round]}");
            Console.WriteLine($"  round {round + 1}: GET /campaigns/{{id}}     {gets[round]}   ratio {gets[round].RequestsPerSecond / bares[round].RequestsPerSecond:F2}");
        }
        var bare = Median(bares);
        var get = Median(gets);
        Console.WriteLine($"  median bare Npgsql read by id  {bare}");
        Console.WriteLine($"  median GET /campaigns/{{id}}     {get}");
        Console.WriteLine($"  POST /campaigns                {create}");
        Console.WriteLine($"  GET / ceiling throughput ratio (medians): {get.RequestsPerSecond / bare.RequestsPerSecond:F2}");
        Console.WriteLine($"  service peak RSS: {service.PeakRssMegabytes():F0} MiB");
    }

    private static Measure.LoadResult Median(List<Measure.LoadResult> results) =>
        results.OrderBy(result => result.RequestsPerSecond).ElementAt(results.Count / 2);

    private static async Task<Guid> CreateAsync(HttpClient client, Guid datasetId, int i)
    {
        var body = new JsonObject
        {
            ["dataset_id"] = datasetId,
            ["name"] = $"Benchmark campaign {i}",
            ["type"] = "email",
            ["alias_ids"] = new JsonArray("alias-1", "alias-2"),
            ["steps_config"] = new JsonArray(
                new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}, a note about {{company}}." },
                new JsonObject { ["channel"] = "email", ["delay_days"] = 3, ["message_template"] = "Following up, {{first_name}}." }),
        };
        using var response = await client.PostAsJsonAsync("/api/v1/campaigns", body);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"create answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var created = await response.Content.ReadFromJsonAsync<JsonObject>();
        return Guid.Parse((string)created!["campaign_id"]!);
    }

    private static async Task Expect(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"answered {(int)response.StatusCode}");
        await response.Content.CopyToAsync(Stream.Null);
    }

    /// <summary>
    /// The ceiling, run as its own process (`bare-endpoint` mode): Kestrel, one Npgsql query by primary key,
    /// the stored JSON written back. No auth, no mapping, no validation.
    /// </summary>
    public static async Task RunBareEndpointAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args[1..]);
        builder.Logging.ClearProviders();
        await using var dataSource = NpgsqlDataSource.Create(args[0]);
        var app = builder.Build();
        app.MapGet("/ready", () => Results.Ok());
        app.MapGet("/campaigns/{id:guid}", async (Guid id, CancellationToken ct) =>
        {
            await using var command = dataSource.CreateCommand("select (to_jsonb(c) - 'version')::text from campaigns c where c.campaign_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            var body = (string?)await command.ExecuteScalarAsync(ct);
            return body is null ? Results.NotFound() : Results.Text(body, "application/json");
        });
        await app.RunAsync();
    }
}
