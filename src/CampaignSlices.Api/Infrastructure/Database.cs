using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

public static class Database
{
    public const string ConnectionStringName = "Campaigns";
    private const string EmbeddedDatabaseName = "campaigns";

    /// <summary>
    /// Registers the app's one NpgsqlDataSource. With no connection string the service starts its own
    /// PostgreSQL from the machine's binaries, data kept in the local data folder.
    /// </summary>
    public static async Task AddDatabaseAsync(this WebApplicationBuilder builder)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new UtcTimestampHandler());
        SqlMapper.AddTypeHandler(new DateHandler());
        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var folder = Path.Combine(LocalData.Folder(builder.Configuration, builder.Environment), "postgres");
            var server = await EmbeddedPostgres.StartAsync(folder, throwAway: false);
            builder.Services.AddSingleton(server);
            connectionString = await EnsureDatabaseAsync(server.ConnectionString, EmbeddedDatabaseName);
            Console.WriteLine($"Embedded PostgreSQL on 127.0.0.1:{server.Port}, data in {server.DataDirectory}");
        }
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        // Npgsql 10 tries GSS (Kerberos) encryption first by default; the .NET container images have no Kerberos
        // library, so every start printed "Cannot load library libgssapi_krb5.so.2". Prefer becomes Disable; Require stays.
        if (settings.GssEncryptionMode == GssEncryptionMode.Prefer)
            settings.GssEncryptionMode = GssEncryptionMode.Disable;
        // A pooled connection is not reset (DISCARD ALL) on its way back: that was a second statement, and a
        // second PostgreSQL transaction, in every request. The service leaves no session state behind: settings
        // are transaction-local, temporary tables drop at commit, session advisory locks are released in finally
        // blocks, and the one LISTEN (DueWork) is undone before its connection goes back.
        settings.NoResetOnClose = true;
        // The same few statements run over and over (a GET's version check, a lease's claim): prepared once per
        // connection, PostgreSQL parses and plans them once instead of on every execution.
        settings.MaxAutoPrepare = 64;
        builder.Services.AddSingleton(sp => new NpgsqlDataSourceBuilder(settings.ConnectionString)
            .UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>())
            .Build());
        builder.Services.AddSingleton<System.Data.Common.DbDataSource>(sp => sp.GetRequiredService<NpgsqlDataSource>());
        builder.Services.AddSingleton<Migrations>();
    }

    /// <summary>Stops the embedded server, if this process started one, when the app stops.</summary>
    public static void StopEmbeddedDatabaseOnShutdown(this WebApplication app)
    {
        if (app.Services.GetService<EmbeddedPostgres>() is { } server)
            app.Lifetime.ApplicationStopped.Register(() => server.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    /// <summary>Creates <paramref name="database"/> on the server when missing; returns its connection string.</summary>
    public static async Task<string> EnsureDatabaseAsync(string serverConnectionString, string database)
    {
        await using var connection = new NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        var exists = await connection.ExecuteScalarAsync<bool>(
            "select exists(select 1 from pg_database where datname = @database)", new { database });
        if (!exists)
            await connection.ExecuteAsync($"create database \"{database}\"");
        return new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = database }.ConnectionString;
    }

    /// <summary>
    /// The rows of a batch's current result mapped as Dapper maps them, then on to the batch's next result: for a batch
    /// whose results are not all Dapper's (a campaign read by <see cref="Campaigns.CampaignStore"/> among them).
    /// </summary>
    public static async Task<List<T>> ReadRowsAsync<T>(this System.Data.Common.DbDataReader reader, CancellationToken ct)
    {
        var parse = reader.GetRowParser<T>();
        var rows = new List<T>();
        while (await reader.ReadAsync(ct))
            rows.Add(parse(reader));
        await reader.NextResultAsync(ct);
        return rows;
    }

    /// <summary>timestamptz as DateTimeOffset (Npgsql hands Dapper a UTC DateTime); written in UTC, the only offset timestamptz takes.</summary>
    private sealed class UtcTimestampHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(System.Data.IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value.ToUniversalTime();

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTime utc => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)),
            DateTimeOffset offset => offset,
            _ => throw new InvalidCastException($"Cannot read {value.GetType()} as a timestamp."),
        };
    }

    /// <summary>date as DateOnly.</summary>
    private sealed class DateHandler : SqlMapper.TypeHandler<DateOnly>
    {
        public override void SetValue(System.Data.IDbDataParameter parameter, DateOnly value) => parameter.Value = value;

        public override DateOnly Parse(object value) => value switch
        {
            DateOnly date => date,
            DateTime midnight => DateOnly.FromDateTime(midnight),
            _ => throw new InvalidCastException($"Cannot read {value.GetType()} as a date."),
        };
    }
}

/// <summary>The git-ignored folder where `dotnet run` keeps its database and development secrets.</summary>
public static class LocalData
{
    public static string Folder(IConfiguration configuration, IHostEnvironment environment) =>
        Path.GetFullPath(configuration["LocalData:Folder"] ?? Path.Combine(environment.ContentRootPath, ".data"));

    /// <summary>A random secret made on first use and kept (owner-only) in the folder: for Development only.</summary>
    public static string Secret(IConfiguration configuration, IHostEnvironment environment, string name)
    {
        var folder = Folder(configuration, environment);
        var path = Path.Combine(folder, name);
        if (File.Exists(path))
            return File.ReadAllText(path).Trim();
        Directory.CreateDirectory(folder);
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
        File.WriteAllText(path, secret);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return secret;
    }
}
