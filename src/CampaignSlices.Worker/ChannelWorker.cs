// The worker's loop: lease a batch (a long poll), perform each action while a timer keeps the batch's leases alive, give back
// what failed in a way that may pass, report the rest in one call, log a line; until stopped or, when asked, idle long enough.
using System.Text.Json;

namespace CampaignSlices.Worker;

public sealed class ChannelWorker(TextWriter log)
{
    /// <summary>The longest a lease request may wait for work.</summary>
    private const int LongPollSeconds = 20;

    /// <summary>How long an action that failed in a way that may pass is kept back before it is offered again.</summary>
    private const int TransientDelaySeconds = 60;

    private const int MaxDetailLength = 2000, MaxProviderReferenceLength = 255;

    private static readonly TimeSpan LeaseRetryPause = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan[] ReportRetryPauses = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    /// <summary>
    /// Runs until <paramref name="stop"/> fires or, with <see cref="WorkerOptions.UntilIdleSeconds"/>, until that long passed with
    /// nothing leased. On stop, the action being performed is finished, the rest of the batch is given back and what was done is
    /// reported. A token the service refuses ends the run with a <see cref="DispatchApiException"/>.
    /// </summary>
    public async Task<Tally> RunAsync(WorkerOptions options, CancellationToken stop)
    {
        using var api = new DispatchApi(options.Api, options.Token);
        await using IChannel channel = options.Smtp is { } smtp
            ? new SmtpChannel(smtp, options.FromDomain)
            : new SimulatedChannel(options.Simulate, options.CallSeconds);
        var pacer = new Pacer(options.Rate);
        var totals = new Tally();
        var idleSince = DateTimeOffset.UtcNow;
        var performing = options switch
        {
            { Smtp: { } server } => $"sending through {server.Host}:{server.Port}",
            { CallSeconds: { } seconds } => $"simulated, answered calls lasting {seconds.Min}-{seconds.Max} s",
            _ => "simulated",
        };
        Log($"working: {options.Channel} leases from {options.Api}, {performing}");
        while (!stop.IsCancellationRequested)
        {
            var idleLeft = options.UntilIdleSeconds is { } idle ? idle - (DateTimeOffset.UtcNow - idleSince).TotalSeconds : LongPollSeconds;
            List<Lease> leases;
            try
            {
                leases = await api.LeaseAsync(new LeaseRequest(options.Channel, options.Max, options.LeaseSeconds,
                    (int)Math.Clamp(Math.Ceiling(idleLeft), 0, LongPollSeconds)), stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception failed) when (IsPassing(failed))
            {
                leases = [];
                var pause = idleLeft < LeaseRetryPause.TotalSeconds ? TimeSpan.FromSeconds(Math.Max(idleLeft, 0)) : LeaseRetryPause;
                Log($"lease failed ({failed.Message}); trying again in {pause.TotalSeconds:0.#} s");
                if (!await PauseAsync(pause, stop))
                    break;
            }
            if (leases.Count == 0)
            {
                if (options.UntilIdleSeconds is { } limit && DateTimeOffset.UtcNow - idleSince >= TimeSpan.FromSeconds(limit))
                {
                    Log($"nothing leased for {limit} s");
                    break;
                }
                continue;
            }
            var batch = await RunBatchAsync(api, channel, pacer, leases, options, stop);
            totals.Add(batch);
            Log(batch.ToString());
            idleSince = DateTimeOffset.UtcNow;
        }
        Log($"stopped: {totals}");
        return totals;
    }

    private async Task<Tally> RunBatchAsync(DispatchApi api, IChannel channel, Pacer pacer, List<Lease> leases, WorkerOptions options,
        CancellationToken stop)
    {
        var tally = new Tally { Leased = leases.Count };
        var held = leases.Select(lease => new HeldLease(lease)).ToList();
        using var keepingAlive = new CancellationTokenSource();
        var heartbeats = KeepAliveAsync(api, held, options.LeaseSeconds, keepingAlive.Token);
        try
        {
            var reports = new List<(HeldLease Action, OutcomeReport Report)>();
            foreach (var action in held)
            {
                if (action.Lost)
                {
                    tally.Lost++;
                    continue;
                }
                if (!await pacer.WaitAsync(stop))
                {
                    // Stopping: what was not started goes back at once, for another worker to take.
                    await GiveBackAsync(api, action, 0, tally);
                    continue;
                }
                var started = DateTimeOffset.UtcNow;
                // Not cancelled by the stop: an action under way is finished, so that its outcome can be reported.
                var performed = await channel.PerformAsync(action.Lease, CancellationToken.None);
                if (performed.Outcome is null)
                {
                    Log($"action {action.Lease.ActionId} given back for {TransientDelaySeconds} s: {performed.Detail}");
                    await GiveBackAsync(api, action, TransientDelaySeconds, tally);
                    continue;
                }
                var finished = DateTimeOffset.UtcNow;
                var durationSeconds = performed.DurationSeconds ?? (int)Math.Round((finished - started).TotalSeconds);
                reports.Add((action, new OutcomeReport(action.Lease.ActionId, action.Lease.LeaseToken, performed.Outcome,
                    Shortened(performed.Detail, MaxDetailLength), durationSeconds,
                    Shortened(performed.ProviderReference, MaxProviderReferenceLength), finished)));
            }
            if (reports.Count > 0)
                await ReportAsync(api, reports, tally);
        }
        finally
        {
            await keepingAlive.CancelAsync();
            await heartbeats;
        }
        return tally;
    }

    /// <summary>Every half lease, extends the leases of the batch not yet settled; one no longer held is marked lost.</summary>
    private async Task KeepAliveAsync(DispatchApi api, List<HeldLease> held, int leaseSeconds, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(leaseSeconds / 2.0));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var action in held.Where(action => action is { Settled: false, Lost: false }))
                {
                    try
                    {
                        if (await api.HeartbeatAsync(action.Lease, leaseSeconds, ct) is null)
                            action.Lost = true;
                    }
                    catch (Exception failed) when (IsPassing(failed) && !ct.IsCancellationRequested)
                    {
                        Log($"heartbeat of action {action.Lease.ActionId} failed: {failed.Message}");
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the batch is settled
        }
    }

    private async Task GiveBackAsync(DispatchApi api, HeldLease action, int delaySeconds, Tally tally)
    {
        try
        {
            if (await api.ReleaseAsync(action.Lease, delaySeconds, CancellationToken.None))
                tally.Released++;
            else
                tally.Lost++;
        }
        catch (Exception failed) when (IsPassing(failed))
        {
            Log($"release of action {action.Lease.ActionId} failed ({failed.Message}); it is offered again when its lease ends");
            tally.Lost++;
        }
        action.Settled = true;
    }

    /// <summary>One call for the batch's outcomes, tried again a few times: a repeated report with the same token is answered the same.</summary>
    private async Task ReportAsync(DispatchApi api, List<(HeldLease Action, OutcomeReport Report)> reports, Tally tally)
    {
        var items = reports.Select(pair => pair.Report).ToList();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var answers = await api.ReportAsync(items, CancellationToken.None);
                foreach (var (report, answer) in items.Zip(answers))
                {
                    // Counted as the service recorded it: an answered call under the campaign's threshold is short_duration.
                    if (answer.Status == 200)
                        tally.CountReported(answer.Outcome ?? report.Outcome);
                    else
                    {
                        tally.Rejected++;
                        Log($"outcome {report.Outcome} of action {report.ActionId} not recorded: {answer.Status} {answer.Detail}");
                    }
                }
                break;
            }
            catch (Exception failed) when (IsPassing(failed))
            {
                if (attempt == ReportRetryPauses.Length)
                {
                    Log($"{items.Count} outcomes could not be reported ({failed.Message}); their actions are offered again when their leases end");
                    tally.Unreported += items.Count;
                    break;
                }
                await Task.Delay(ReportRetryPauses[attempt]);
            }
        }
        foreach (var (action, _) in reports)
            action.Settled = true;
    }

    /// <summary>A failure of one call that a later call may not meet: the network, a timeout, the service answering an error.</summary>
    private static bool IsPassing(Exception failed) =>
        failed is HttpRequestException or TaskCanceledException or JsonException || failed is DispatchApiException { IsRefused: false };

    private static async Task<bool> PauseAsync(TimeSpan pause, CancellationToken stop)
    {
        try
        {
            await Task.Delay(pause, stop);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string? Shortened(string? text, int length) => text is { } value && value.Length > length ? value[..length] : text;

    private void Log(string line)
    {
        lock (log)
            log.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss'Z'} {line}");
    }

    /// <summary>A lease of the batch: lost once a heartbeat finds it no longer held; settled once reported or given back.</summary>
    private sealed class HeldLease(Lease lease)
    {
        private volatile bool _lost, _settled;

        public Lease Lease { get; } = lease;
        public bool Lost { get => _lost; set => _lost = value; }
        public bool Settled { get => _settled; set => _settled = value; }
    }

    /// <summary>At most <c>rate</c> actions a second: each waits for its slot, one 1/rate after the last.</summary>
    private sealed class Pacer(double? rate)
    {
        private DateTimeOffset _next = DateTimeOffset.MinValue;

        /// <summary>False when stopped (before or while waiting).</summary>
        public async Task<bool> WaitAsync(CancellationToken stop)
        {
            if (stop.IsCancellationRequested)
                return false;
            if (rate is not { } perSecond)
                return true;
            var now = DateTimeOffset.UtcNow;
            if (_next > now && !await PauseAsync(_next - now, stop))
                return false;
            _next = (_next > now ? _next : now) + TimeSpan.FromSeconds(1 / perSecond);
            return true;
        }
    }
}
