using System.Globalization;
using CampaignSlices.Api.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

[assembly: AssemblyFixture(typeof(CampaignSlices.Tests.Infrastructure.PostgresCluster))]

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>
/// One throw-away PostgreSQL cluster per test run, with a migrated template database from which
/// each test class gets a database of its own.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    private const string TemplateDatabase = "campaigns_template";
    private const string OwnerSuffix = ".owner";
    private static readonly SemaphoreSlim StartLock = new(1, 1);
    private static EmbeddedPostgres? _server;
    private static string? _folder;

    public async ValueTask InitializeAsync() => await ServerAsync();

    /// <summary>A new database, cloned from the migrated template; its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var server = await ServerAsync();
        var name = "test_" + Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"create database {name} template {TemplateDatabase}", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task<EmbeddedPostgres> ServerAsync()
    {
        await StartLock.WaitAsync();
        try
        {
            if (_server is not null)
                return _server;
            // Under /tmp so the postgres user can reach it when the tests run as root.
            var root = Path.Combine(Path.GetTempPath(), "campaign-slices-tests");
            await StopAbandonedAsync(root);
            _folder = Path.Combine(root, Guid.NewGuid().ToString("N"));
            _server = await EmbeddedPostgres.StartAsync(_folder, throwAway: true);
            await File.WriteAllTextAsync(_folder + OwnerSuffix, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            var template = await Database.EnsureDatabaseAsync(_server.ConnectionString, TemplateDatabase);
            await using var dataSource = NpgsqlDataSource.Create(template);
            await new Migrations(dataSource, NullLogger<Migrations>.Instance).ApplyAsync(CancellationToken.None);
            return _server;
        }
        finally
        {
            StartLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is null)
            return;
        await _server.DisposeAsync();
        Directory.Delete(_folder!, recursive: true);
        File.Delete(_folder + OwnerSuffix);
    }

    /// <summary>Clusters of test runs that were killed before they could clean up: stopped and removed.</summary>
    private static async Task StopAbandonedAsync(string root)
    {
        if (!Directory.Exists(root))
            return;
        foreach (var owner in Directory.GetFiles(root, "*" + OwnerSuffix))
        {
            if (int.TryParse(await File.ReadAllTextAsync(owner), out var pid) && Directory.Exists($"/proc/{pid}"))
                continue;
            var folder = owner[..^OwnerSuffix.Length];
            if (Directory.Exists(folder))
            {
                await EmbeddedPostgres.StopIfRunningAsync(folder);
                Directory.Delete(folder, recursive: true);
            }
            File.Delete(owner);
        }
    }
}
