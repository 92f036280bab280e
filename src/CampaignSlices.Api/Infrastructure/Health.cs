using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>/health/live answers while the process runs; /health/ready when the database is reachable and migrated.</summary>
public static class Health
{
    public const string ReadyTag = "ready";

    public static void AddHealth(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddCheck<DatabaseReady>("database", tags: [ReadyTag]);

    public static void MapHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains(ReadyTag) }).AllowAnonymous();
    }

    private sealed class DatabaseReady(Migrations migrations) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
        {
            try
            {
                return await migrations.AllAppliedAsync(ct)
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy("Migrations are pending.");
            }
            catch (NpgsqlException e)
            {
                return HealthCheckResult.Unhealthy("The database is unreachable.", e);
            }
        }
    }
}
