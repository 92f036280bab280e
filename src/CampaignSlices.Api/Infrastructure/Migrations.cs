using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>Applies the numbered SQL files of db/migrations in order, once each, under an advisory lock.</summary>
public sealed class Migrations(NpgsqlDataSource dataSource, ILogger<Migrations> logger)
{
    // Any fixed number: replicas starting together queue on it instead of racing.
    private const long AdvisoryLockKey = 0x43_61_6d_70_53_6c_69;

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "db", "migrations");

    public static IReadOnlyList<string> Files() =>
        Directory.GetFiles(Folder, "*.sql").Order(StringComparer.Ordinal).ToList();

    public async Task ApplyAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync("select pg_advisory_lock(@AdvisoryLockKey)", new { AdvisoryLockKey });
        try
        {
            await connection.ExecuteAsync("""
                create table if not exists schema_migrations (
                    name text primary key,
                    applied_at timestamptz not null default now())
                """);
            var applied = (await connection.QueryAsync<string>("select name from schema_migrations")).ToHashSet();
            foreach (var file in Files())
            {
                var name = Path.GetFileName(file);
                if (applied.Contains(name))
                    continue;
                await ApplyFileAsync(connection, file, name, ct);
                logger.LogInformation("Applied migration {Migration}", name);
            }
        }
        finally
        {
            await connection.ExecuteAsync("select pg_advisory_unlock(@AdvisoryLockKey)", new { AdvisoryLockKey });
        }
    }

    /// <summary>True when every migration file is recorded as applied (readiness).</summary>
    public async Task<bool> AllAppliedAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var applied = (await connection.QueryAsync<string>("select name from schema_migrations")).ToHashSet();
        return Files().All(file => applied.Contains(Path.GetFileName(file)));
    }

    private static async Task ApplyFileAsync(NpgsqlConnection connection, string file, string name, CancellationToken ct)
    {
        var sql = await File.ReadAllTextAsync(file, ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            await connection.ExecuteAsync(sql, transaction: transaction);
            await connection.ExecuteAsync("insert into schema_migrations (name) values (@name)", new { name }, transaction);
            await transaction.CommitAsync(ct);
        }
        catch (PostgresException e)
        {
            throw new MigrationFailedException($"Migration {name} failed: {e.SqlState} {e.MessageText}", e);
        }
    }
}

public sealed class MigrationFailedException(string message, Exception inner) : Exception(message, inner);
