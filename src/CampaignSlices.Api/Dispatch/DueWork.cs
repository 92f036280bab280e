using Npgsql;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// Wakes long-polling lease requests when work becomes due. A transaction that makes actions due now
/// (enrollment, a release, a re-timing, a resume) sends <see cref="NotifySql"/>; PostgreSQL delivers
/// it at commit to every replica, each of which listens on one dedicated connection.
/// </summary>
public sealed class DueWork(NpgsqlDataSource db, ILogger<DueWork> logger) : BackgroundService
{
    private const string Channel = "dispatch_due";

    /// <summary>Run inside the transaction that made work due; delivered only if it commits.</summary>
    public const string NotifySql = $"select pg_notify('{Channel}', '')";

    private TaskCompletionSource _next = NewSignal();

    /// <summary>Completes at the next notification (or reconnection, when some may have been missed).</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => Signal();
                await using (var listen = new NpgsqlCommand($"listen {Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                Signal();
                try
                {
                    while (true)
                        await connection.WaitAsync(stoppingToken);
                }
                finally
                {
                    await UnlistenAsync(connection);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Waiters still wake at their own deadlines and at the next due time; this only costs promptness.
                logger.LogWarning(e, "Listening for due dispatch work failed; retrying in a second");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The pool does not reset connections, so the LISTEN is undone before this one goes back (a broken one is dropped anyway).</summary>
    private static async Task UnlistenAsync(NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
            return;
        try
        {
            await using var unlisten = new NpgsqlCommand("unlisten *", connection);
            await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or ObjectDisposedException)
        {
            // A connection that cannot take the statement is broken, and the pool discards it.
        }
    }

    private void Signal() => Interlocked.Exchange(ref _next, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
