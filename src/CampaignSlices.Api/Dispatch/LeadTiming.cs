using CampaignSlices.Api.Campaigns;
using Dapper;
using Npgsql;
using NodaTime;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// When leads are due, in bulk: time-zone arithmetic in C# (<see cref="Schedule"/>), set-based work in
/// SQL. A campaign's leads live in one zone or a handful, so the schedule is worked out per zone and
/// joined to the leads, never computed lead by lead in .NET.
/// </summary>
public static class LeadTiming
{
    /// <summary>
    /// The zones that enrollment's rows name and NodaTime knows, each with its first step's due time,
    /// as the arrays the enrollment statement joins (<c>@zone_ids</c>, <c>@zone_dues</c>).
    /// </summary>
    public static async Task<(string[] Zones, DateTimeOffset?[] Dues)> EnrollmentDuesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        Campaign campaign, Schedule schedule, DateTimeOffset earliest, CancellationToken ct)
    {
        var named = await connection.QueryAsync<string>(new CommandDefinition(DistinctZonesSql, new { dataset_id = campaign.DatasetId },
            transaction, commandTimeout: 0, cancellationToken: ct));
        var zones = named.Where(id => DateTimeZoneProviders.Tzdb.GetZoneOrNull(id) is not null).ToArray();
        var dues = zones.Select(id => Due(schedule, earliest, DateTimeZoneProviders.Tzdb[id])).ToArray();
        return (zones, dues);
    }

    /// <summary>The first moment at or after <paramref name="earliest"/> that the schedule allows in <paramref name="zone"/>; null when none within its horizon.</summary>
    public static DateTimeOffset? Due(Schedule schedule, DateTimeOffset earliest, DateTimeZone zone) =>
        schedule.NextAllowed(Instant.FromDateTimeOffset(earliest), zone)?.ToDateTimeOffset();

    /// <summary>
    /// Re-times every waiting lead of a campaign under <paramref name="schedule"/> (after a schedule change):
    /// each becomes due at the first allowed moment at or after its step's earliest moment, so one the new
    /// schedule allows now is due now, and none before its step delay. Leads under a lease keep it until it ends.
    /// </summary>
    public static async Task<int> RetimeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId, Schedule schedule,
        DateTimeOffset now, CancellationToken ct)
    {
        var spans = (await connection.QueryAsync<(string? Zone, DateTimeOffset From, DateTimeOffset Until)>(new CommandDefinition(WaitingSpansSql,
            new { campaign_id = campaignId, now }, transaction, cancellationToken: ct))).ToList();
        if (spans.Count == 0)
            return 0;
        var (zones, starts, ends) = (new List<string>(), new List<DateTimeOffset>(), new List<DateTimeOffset>());
        foreach (var (zoneId, from, until) in spans)
        {
            var zone = schedule.LeadZone(zoneId);
            var horizon = Instant.FromDateTimeOffset(until) + Duration.FromDays(Schedule.HorizonDays);
            foreach (var (start, end) in schedule.Windows(Instant.FromDateTimeOffset(from), horizon, zone))
            {
                zones.Add(zoneId ?? "");
                starts.Add(start.ToDateTimeOffset());
                ends.Add(end.ToDateTimeOffset());
            }
        }
        await connection.ExecuteAsync(new CommandDefinition(WindowsSql, new { zones = zones.ToArray(), starts = starts.ToArray(), ends = ends.ToArray() },
            transaction, cancellationToken: ct));
        var retimed = await connection.ExecuteAsync(new CommandDefinition(RetimeSql, new { campaign_id = campaignId, now }, transaction,
            commandTimeout: 0, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(DueWork.NotifySql, transaction: transaction, cancellationToken: ct));
        return retimed;
    }

    // A row's attributes hold a timezone only when its dataset has that column: without one (the uncorrelated
    // exists is checked once, before the scan) the dataset's rows are not read at all.
    private const string DistinctZonesSql = """
        select distinct nullif(btrim(attributes ->> 'timezone', E' \t\r\n'), '')
        from dataset_rows
        where dataset_id = @dataset_id and attributes ? 'timezone'
          and exists (select from datasets d where d.dataset_id = @dataset_id and 'timezone' = any(d.columns))
        """;

    /// <summary>
    /// Leads waiting for their step (none leased, given back, or a lease that ended unreported, which the claim
    /// moved to the schedule's next window): what a schedule change moves.
    /// </summary>
    private const string Waiting = """
        l.campaign_id = @campaign_id and l.status in ('pending', 'active') and l.earliest_at is not null
        and (l.open_action_id is null
             or exists (select 1 from actions a where a.action_id = l.open_action_id
                        and (a.state = 'released' or (a.state = 'leased' and a.lease_expires_at <= @now))))
        """;

    private const string WaitingSpansSql = $"""
        select l.timezone as zone, min(l.earliest_at) as "from", max(l.earliest_at) as until
        from leads l
        where {Waiting}
        group by l.timezone
        """;

    private const string WindowsSql = """
        create temporary table if not exists schedule_windows (zone text not null, starts_at timestamptz not null, ends_at timestamptz not null)
            on commit drop;
        insert into schedule_windows select * from unnest(@zones::text[], @starts::timestamptz[], @ends::timestamptz[]);
        create index on schedule_windows (zone, ends_at);
        analyze schedule_windows;
        """;

    private const string RetimeSql = $"""
        update leads l
        set next_action_at = (
                select greatest(l.earliest_at, w.starts_at)
                from schedule_windows w
                where w.zone = coalesce(l.timezone, '') and w.ends_at > l.earliest_at
                order by w.ends_at
                limit 1),
            updated_at = @now
        where {Waiting}
        """;
}
