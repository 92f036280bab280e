using CampaignSlices.Api.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// A PostgreSQL cluster of the benchmark's own (durable settings, as in production) with a migrated
/// database, under /tmp so that the postgres user reaches it when run as root. Removed afterwards.
/// </summary>
public sealed class BenchEnvironment : IAsyncDisposable
{
    private readonly EmbeddedPostgres _server;
    private readonly string _folder;

    private BenchEnvironment(EmbeddedPostgres server, string folder, string connectionString)
    {
        _server = server;
        _folder = folder;
        ConnectionString = connectionString;
    }

    /// <summary>The migrated benchmark database.</summary>
    public string ConnectionString { get; }

    public int Port => _server.Port;

    /// <summary>Processor time the PostgreSQL server has used so far (postmaster and all backends), in seconds.</summary>
    public double PostgresCpuSeconds() => Cpu.PostgresSeconds(_server.DataDirectory);

    public static async Task<BenchEnvironment> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "campaign-slices-bench", Guid.NewGuid().ToString("N"));
        var server = await EmbeddedPostgres.StartAsync(folder, throwAway: false);
        var database = await Database.EnsureDatabaseAsync(server.ConnectionString, "bench");
        await using (var dataSource = NpgsqlDataSource.Create(database))
            await new Migrations(dataSource, NullLogger<Migrations>.Instance).ApplyAsync(CancellationToken.None);
        Console.WriteLine($"PostgreSQL on port {server.Port}, data in {folder}");
        return new BenchEnvironment(server, folder, database);
    }

    /// <summary>Another database on the same server (not migrated); its connection string.</summary>
    public Task<string> CreateDatabaseAsync(string name) => Database.EnsureDatabaseAsync(_server.ConnectionString, name);

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
