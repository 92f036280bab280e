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
            _folder = Path.Combine(Path.GetTempPath(), "campaign-slices-tests", Guid.NewGuid().ToString("N"));
            _server = await EmbeddedPostgres.StartAsync(_folder, throwAway: true);
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
    }
}
