using System.Collections.Concurrent;
using System.Data.Common;
using CampaignSlices.Api.Campaigns;
using Dapper;
using Npgsql;
using NodaTime;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// What the dispatcher needs of a campaign (its steps, schedule and limits), read once per change of
/// the campaign. Keyed by the row's updated_at, which every client-visible write moves and the
/// dispatcher's own counters leave alone, so a busy campaign is not read again on every lease.
/// </summary>
public sealed class CampaignPlans
{
    private const int Capacity = 10_000;

    public sealed record Plan(Campaign Campaign, Schedule Schedule, IReadOnlyDictionary<string, int> AccountLimits)
    {
        public DateTimeZone Zone => Schedule.CampaignZone;

        public CampaignStep Step(int step) => Campaign.Steps[step - 1];

        /// <summary>The campaign-local day <paramref name="now"/> falls on: what daily_limit and account_limits count.</summary>
        public LocalDate Today(Instant now) => now.InZone(Zone).Date;

        /// <summary>When the campaign-local day after <paramref name="now"/>'s begins.</summary>
        public Instant NextDayStart(Instant now) => Zone.AtStartOfDay(Today(now).PlusDays(1)).ToInstant();

        /// <summary>min_interval_seconds: the least time between two leases from one sender.</summary>
        public TimeSpan MinInterval => TimeSpan.FromSeconds(Campaign.MinIntervalSeconds ?? 0);

        /// <summary>
        /// Whether a sender may lease at <paramref name="now"/>: its min_interval has passed since its last lease, and on
        /// <paramref name="today"/> it is under its account limit. The lease and the stats' reason both ask this.
        /// </summary>
        public bool SenderFree(string senderId, DateTimeOffset? lastLeasedAt, DateOnly? day, int leasedOnDay, DateOnly today, DateTimeOffset now) =>
            !(lastLeasedAt + MinInterval > now) && !AtAccountLimit(senderId, day, leasedOnDay, today);

        public bool AtAccountLimit(string senderId, DateOnly? day, int leasedOnDay, DateOnly today) =>
            AccountLimits.TryGetValue(senderId, out var cap) && day == today && leasedOnDay >= cap;

        /// <summary>attempts_per_second as a whole number of calls per window of whole seconds (see <see cref="CallRate"/>).</summary>
        public CallRate? Calls { get; } = Campaign.VoiceConfig?.AttemptsPerSecond is { } perSecond ? CallRate.Of(perSecond) : null;
    }

    /// <summary>
    /// At most <paramref name="Calls"/> call leases in any <paramref name="Window"/>: the shortest window of whole seconds
    /// (1 for a whole rate, 2 for 2.5, 10 for 0.1) in which the rate is a whole number of calls, so a worker may take a
    /// second's calls in one lease and the average never exceeds the rate. A rate with no such window within 100 seconds
    /// rounds down over 100.
    /// </summary>
    public sealed record CallRate(int Calls, TimeSpan Window)
    {
        private const int LongestWindowSeconds = 100;

        public static CallRate Of(double perSecond)
        {
            for (var seconds = 1; seconds <= LongestWindowSeconds; seconds++)
            {
                var calls = perSecond * seconds;
                if (calls >= 1 && Math.Abs(calls - Math.Round(calls)) < 1e-6)
                    return new((int)Math.Round(calls), TimeSpan.FromSeconds(seconds));
            }
            return new(Math.Max(1, (int)Math.Floor(perSecond * LongestWindowSeconds)), TimeSpan.FromSeconds(LongestWindowSeconds));
        }
    }

    private readonly ConcurrentDictionary<Guid, Plan> _plans = new();

    /// <summary>
    /// Reads the campaigns <see cref="Find"/> found missing (the parameter <c>@missing</c>): a statement to batch with others,
    /// whose rows <see cref="AddAsync"/> takes.
    /// </summary>
    public static readonly string ReadMissingSql = $"select {CampaignStore.Columns} from campaigns c where c.campaign_id = any(@missing);\n";

    /// <summary>The plans of <paramref name="versions"/> (campaign id → updated_at), reading only those not known at that version.</summary>
    public async Task<IReadOnlyDictionary<Guid, Plan>> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        IReadOnlyDictionary<Guid, DateTimeOffset> versions, CancellationToken ct)
    {
        var (plans, missing) = Find(versions);
        if (missing.Length == 0)
            return plans;
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(ReadMissingSql, new { missing }, transaction, cancellationToken: ct));
        await AddAsync(reader, plans, ct);
        return plans;
    }

    /// <summary>The plans known at the versions given, and the campaigns whose plan must be read (not known, or changed since).</summary>
    public (Dictionary<Guid, Plan> Known, Guid[] Missing) Find(IReadOnlyDictionary<Guid, DateTimeOffset> versions)
    {
        var plans = new Dictionary<Guid, Plan>();
        var missing = new List<Guid>();
        foreach (var (campaignId, updatedAt) in versions)
        {
            if (_plans.TryGetValue(campaignId, out var plan) && plan.Campaign.UpdatedAt == updatedAt)
                plans[campaignId] = plan;
            else
                missing.Add(campaignId);
        }
        return (plans, [.. missing]);
    }

    /// <summary>Adds to <paramref name="plans"/> (and keeps) the plans of the campaigns in the reader's current result, read by <see cref="ReadMissingSql"/>.</summary>
    public async Task AddAsync(DbDataReader reader, Dictionary<Guid, Plan> plans, CancellationToken ct)
    {
        var campaigns = await CampaignStore.ReadRowsAsync(reader, ct);
        if (_plans.Count + campaigns.Count > Capacity)
            _plans.Clear();
        foreach (var campaign in campaigns)
            plans[campaign.CampaignId] = _plans[campaign.CampaignId] = For(campaign);
    }

    public static Plan For(Campaign campaign) => new(campaign, Schedule.FromCampaign(campaign),
        (campaign.AccountLimits ?? []).ToDictionary(limit => limit.AccountId!, limit => limit.DailyLimit!.Value, StringComparer.Ordinal));
}
