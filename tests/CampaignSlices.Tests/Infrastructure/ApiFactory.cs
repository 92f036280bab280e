using System.Net.Http.Headers;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>
/// The real app on Kestrel over a database of its own (one per test class), reached over real HTTP.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string SigningKey = "test-signing-key-that-is-long-enough-for-hs256";
    public const string KeyEncryptionKey = "test-key-encryption-key-that-is-long-enough";
    public static readonly Auth.Settings TokenSettings =
        new(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(SigningKey)), "campaign-slices", "campaign-slices");

    /// <summary>The database; a new one per factory unless set, so that several replicas can share one.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Extra settings a test class needs (small limits and the like).</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => ReplicaSettings;

    /// <summary>Settings of a factory made by hand, as one of several replicas.</summary>
    public IReadOnlyDictionary<string, string?> ReplicaSettings { get; init; } = new Dictionary<string, string?>();

    public async ValueTask InitializeAsync()
    {
        if (ConnectionString.Length == 0)
            ConnectionString = await PostgresCluster.CreateDatabaseAsync();
        UseKestrel(0);
        StartServer();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:" + Database.ConnectionStringName, ConnectionString);
        builder.UseSetting("Auth:SigningKey", SigningKey);
        builder.UseSetting("DataProtection:KeyEncryptionKey", KeyEncryptionKey);
        foreach (var (key, value) in Settings)
            builder.UseSetting(key, value);
    }

    /// <summary>A client acting as <paramref name="userId"/> (a new user when omitted).</summary>
    public HttpClient ClientFor(Guid? userId = null)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", Auth.IssueToken(TokenSettings, userId ?? Guid.NewGuid(), TimeSpan.FromHours(1)));
        return client;
    }

    public HttpClient AnonymousClient() => CreateClient();

    public async Task<NpgsqlConnection> OpenDatabaseAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
