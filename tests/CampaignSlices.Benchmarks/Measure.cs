using System.Diagnostics;

namespace CampaignSlices.Benchmarks;

/// <summary>Timing and latency summaries shared by the scenarios.</summary>
public static class Measure
{
    public static async Task<TimeSpan> TimeAsync(Func<Task> work)
    {
        var clock = Stopwatch.StartNew();
        await work();
        return clock.Elapsed;
    }

    /// <summary>Runs <paramref name="request"/> from <paramref name="workers"/> concurrent loops for <paramref name="duration"/>.</summary>
    public static async Task<LoadResult> LoadAsync(int workers, TimeSpan duration, Func<int, Task> request)
    {
        var latencies = new List<double>[workers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var own = latencies[worker] = [];
            var iteration = 0;
            while (clock.Elapsed < duration)
            {
                var started = clock.Elapsed;
                await request(worker * 1_000_000 + iteration++);
                own.Add((clock.Elapsed - started).TotalMilliseconds);
            }
        }));
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length / clock.Elapsed.TotalSeconds, Percentile(all, 0.50), Percentile(all, 0.99), all.Length);
    }

    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    public sealed record LoadResult(double RequestsPerSecond, double P50Milliseconds, double P99Milliseconds, int Requests)
    {
        public override string ToString() => $"{RequestsPerSecond,8:F0} req/s  p50 {P50Milliseconds,6:F2} ms  p99 {P99Milliseconds,6:F2} ms  ({Requests} requests)";
    }
}
