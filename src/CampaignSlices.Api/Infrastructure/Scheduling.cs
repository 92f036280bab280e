using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Quartz;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Quartz on the service's own PostgreSQL: persistent, clustered (replicas share one scheduler
/// state, each trigger fires on one of them), and able to join the slices' transactions.
/// </summary>
public static class Scheduling
{
    public const string SchedulerName = "campaign-slices";

    /// <summary>The scheduler as every replica runs it; a host of any kind (the benchmark's bare Quartz runs it too).</summary>
    public static void AddScheduling(this IHostApplicationBuilder builder, Action<IQuartzBuilder>? jobs = null)
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
        builder.Services.AddHostedService<LeaveClusterOnStop>();
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

    /// <summary>
    /// A node that stops cleanly takes its check-in row with it. Left behind, the row reads as a node that
    /// died: the next node to start warns "detected 1 failed or restarted instances" and recovers nothing.
    /// A stable instance id would not help, since Quartz counts its own earlier row as restarted too. The
    /// row stays while fired triggers of this node remain, so that they are still recovered.
    /// </summary>
    private sealed class LeaveClusterOnStop(ISchedulerFactory schedulers, NpgsqlDataSource db, ILogger<LeaveClusterOnStop> logger)
        : IHostedLifecycleService
    {
        private const string LeaveSql = """
            delete from quartz.qrtz_scheduler_state s
            where s.sched_name = @scheduler and s.instance_name = @instance
              and not exists (select from quartz.qrtz_fired_triggers f where f.sched_name = s.sched_name and f.instance_name = s.instance_name)
            """;

        private string? _instanceId;

        public async Task StartedAsync(CancellationToken ct) => _instanceId = (await schedulers.GetScheduler(ct))?.SchedulerInstanceId;

        public async Task StoppedAsync(CancellationToken ct)
        {
            if (_instanceId is null)
                return;
            try
            {
                await using var connection = await db.OpenConnectionAsync(ct);
                await connection.ExecuteAsync(new CommandDefinition(LeaveSql, new { scheduler = SchedulerName, instance = _instanceId }, cancellationToken: ct));
            }
            // The pool has been seen disposed already at this last step of a test host's shutdown; the row then stays, as after a crash.
            catch (Exception e) when (e is NpgsqlException or ObjectDisposedException)
            {
                logger.LogWarning(e, "Could not remove the check-in row of scheduler instance {InstanceId}; the next start will report it as failed.", _instanceId);
            }
        }

        public Task StartingAsync(CancellationToken ct) => Task.CompletedTask;
        public Task StartAsync(CancellationToken ct) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken ct) => Task.CompletedTask;
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
