// What a batch of leases, or a whole run, came to: the numbers the worker logs.
namespace CampaignSlices.Worker;

public sealed class Tally
{
    public int Leased { get; set; }

    /// <summary>Outcomes the service recorded, by the outcome it answered (an answered call it found too short is short_duration).</summary>
    public SortedDictionary<string, int> Reported { get; } = new(StringComparer.Ordinal);

    /// <summary>Actions given back undone: a failure that may pass, or the worker stopping.</summary>
    public int Released { get; set; }

    /// <summary>Actions whose lease was no longer this worker's before they were done (or given back).</summary>
    public int Lost { get; set; }

    /// <summary>Outcomes the service answered with something other than 200 (the lease had been taken over).</summary>
    public int Rejected { get; set; }

    /// <summary>Outcomes that could not be delivered at all; their actions are offered again when their leases end.</summary>
    public int Unreported { get; set; }

    public int ReportedOf(string outcome) => Reported.GetValueOrDefault(outcome);

    public void CountReported(string outcome) => Reported[outcome] = ReportedOf(outcome) + 1;

    public void Add(Tally batch)
    {
        Leased += batch.Leased;
        foreach (var (outcome, count) in batch.Reported)
            Reported[outcome] = ReportedOf(outcome) + count;
        Released += batch.Released;
        Lost += batch.Lost;
        Rejected += batch.Rejected;
        Unreported += batch.Unreported;
    }

    public override string ToString()
    {
        var parts = new List<string>
        {
            $"leased {Leased}",
            Reported.Count == 0 ? "reported nothing" : "reported " + string.Join(" ", Reported.Select(pair => $"{pair.Key}={pair.Value}")),
        };
        if (Released > 0)
            parts.Add($"released {Released}");
        if (Lost > 0)
            parts.Add($"lost {Lost}");
        if (Rejected > 0)
            parts.Add($"rejected {Rejected}");
        if (Unreported > 0)
            parts.Add($"unreported {Unreported}");
        return string.Join(", ", parts);
    }
}
