using Microsoft.Extensions.Diagnostics.HealthChecks;
using Quartz;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Quartz on the service's own PostgreSQL: persistent, clustered (replicas share one scheduler
/// state, each trigger fires on one of them), and able to join the slices' transactions.
/// </summary>
public static class Scheduling
{
    public const string SchedulerName = "campaign-slices";

    public static void AddScheduling(this WebApplicationBuilder builder, Action<IQuartzBuilder>? jobs = null)
    {
        var settings = builder.Configuration.GetSection("Scheduling");
        builder.Services.AddQuartz(quartz =>
        {
            // Every replica the same name, each its own generated instance id: that makes one cluster.
            quartz.ConfigureScheduler(scheduler => scheduler.InstanceName = SchedulerName);
            quartz.UseTimeProvider(TimeProvider.System);
            // A failed job is re-fired with backoff; jobs decide what the last failure means.
            quartz.UseDefaultRetryPolicy(RetryPolicy.Exponential(
                settings.GetValue("Retries", 3), settings.GetValue("RetryDelay", TimeSpan.FromSeconds(5)), 2, TimeSpan.FromMinutes(5)));
            quartz.UseDefaultThreadPool(pool => pool.MaxConcurrency = settings.GetValue("MaxConcurrency", 8));
            quartz.UsePersistentStore(store =>
            {
                store.UsePostgres(postgres => postgres.UseRegisteredDataSource = true);
                store.UseClustering(cluster =>
                {
                    cluster.CheckinInterval = settings.GetValue("CheckinInterval", TimeSpan.FromSeconds(5));
                    cluster.CheckinMisfireThreshold = settings.GetValue("CheckinMisfireThreshold", TimeSpan.FromSeconds(20));
                });
                store.ConfigureStore(options =>
                {
                    options.TablePrefix = "quartz.qrtz_";
                    options.AcceptEnlistedTransactions = true;
                });
                store.ProvisionSchema();
                store.UseSystemTextJsonSerializer();
            });
            jobs?.Invoke(quartz);
        });
        builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
        builder.Services.AddHealthChecks().AddCheck<SchedulerStarted>("scheduler", tags: [Health.ReadyTag]);
    }

    private sealed class SchedulerStarted(ISchedulerFactory schedulers) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
        {
            var scheduler = await schedulers.GetScheduler(ct);
            return scheduler?.Status == SchedulerStatus.Running
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The scheduler has not started.");
        }
    }
}
