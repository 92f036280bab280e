using System.Diagnostics.Metrics;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// The dispatcher's instruments on the meter "CampaignSlices.Dispatch", each tagged with the channel: actions leased,
/// expired leases offered again, how late a lease came after its action was due, and outcomes newly recorded.
/// </summary>
public sealed class DispatchMetrics
{
    public const string MeterName = "CampaignSlices.Dispatch";
    private const string ChannelTag = "channel";
    private const string OutcomeTag = "outcome";

    private readonly Counter<long> _leased;
    private readonly Counter<long> _expiries;
    private readonly Histogram<double> _lag;
    private readonly Counter<long> _outcomes;

    public DispatchMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _leased = meter.CreateCounter<long>("dispatch.actions.leased", "{action}", "Actions leased to workers, offered-again ones included.");
        _expiries = meter.CreateCounter<long>("dispatch.lease.expiries", "{action}",
            "Leases that expired without an outcome: offered again (email, LinkedIn) or closed as internal_error (calls); given-back ones are not counted.");
        // From a fraction of a second (a waiting long poll) to hours (workers that stopped leasing).
        _lag = meter.CreateHistogram("dispatch.lease.lag", "s", "Seconds from an action's due time to its lease.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] });
        _outcomes = meter.CreateCounter<long>("dispatch.outcomes", "{outcome}", "Outcomes recorded, by type; a repeated report is not counted again.");
    }

    /// <summary>One claim's leases: the due time each lead had before it, and how many were expired leases offered again.</summary>
    public void Leased(string channel, DateTimeOffset leasedAt, IReadOnlyCollection<DateTimeOffset> dueTimes, int expiredLeases)
    {
        var tag = new KeyValuePair<string, object?>(ChannelTag, channel);
        if (dueTimes.Count > 0)
            _leased.Add(dueTimes.Count, tag);
        if (expiredLeases > 0)
            _expiries.Add(expiredLeases, tag);
        foreach (var due in dueTimes)
            _lag.Record(Math.Max(0, (leasedAt - due).TotalSeconds), tag);
    }

    /// <summary>Leases that ended without an outcome and were closed rather than offered again (calls).</summary>
    public void Expired(string channel, int count) => _expiries.Add(count, new KeyValuePair<string, object?>(ChannelTag, channel));

    /// <summary><paramref name="count"/> outcomes of one kind newly recorded (a batch's are added once per channel and outcome).</summary>
    public void Recorded(string channel, string outcome, int count) =>
        _outcomes.Add(count, new KeyValuePair<string, object?>(ChannelTag, channel), new KeyValuePair<string, object?>(OutcomeTag, outcome));
}
