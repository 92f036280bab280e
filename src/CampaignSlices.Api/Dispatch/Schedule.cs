using CampaignSlices.Api.Campaigns;
using NodaTime;
using NodaTime.Text;
using NodaTime.TimeZones;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// When a campaign may send, as a pure function of time: no database, no clock. It is built from
/// the campaign's schedule settings and read in whichever zone it is asked about (the lead's).
/// <list type="bullet">
/// <item>Each weekday has windows of local wall-clock time, kept sorted by start: operating_hours
/// when set (several windows a day, each within its day), else the one sending window on each of
/// send_days.</item>
/// <item>A window whose end is at or before its start runs past midnight and belongs to the day it
/// opens on: that day must be a send day and not a blackout date, and then the part after midnight
/// is allowed whatever the next day is.</item>
/// <item>A blackout date blocks the windows that open on it, in the zone the schedule is read in.</item>
/// <item>Windows are half-open: the start is allowed, the end is not.</item>
/// <item>A window edge that a daylight-saving jump skips moves to the instant the gap ends; an edge
/// that a fall-back repeats is its first occurrence. A window whose edges both fall in one gap is
/// empty that day.</item>
/// </list>
/// </summary>
public sealed class Schedule
{
    /// <summary>
    /// How many days after the asked-about moment <see cref="NextAllowed"/> searches before it
    /// concludes that the schedule allows nothing: two years. Blackout dates number at most 366, so
    /// any schedule with one window a week finds it well inside.
    /// </summary>
    public const int HorizonDays = 2 * 366;

    /// <summary>A window of local time on the day it opens; an end at or before the start closes on the next day.</summary>
    public readonly record struct DailyWindow(LocalTime Start, LocalTime End)
    {
        public bool PastMidnight => End <= Start;
    }

    // Skipped wall time → the instant the gap ends (not ShiftForward, which would move 02:30 to 03:30);
    // repeated wall time → its earlier occurrence.
    private static readonly ZoneLocalMappingResolver EdgeResolver =
        Resolvers.CreateMappingResolver(Resolvers.ReturnEarlier, Resolvers.ReturnStartOfIntervalAfter);

    private static readonly LocalTimePattern ClockTime = LocalTimePattern.CreateWithInvariantCulture("HH':'mm");

    private static readonly char[] Whitespace = [' ', '\t', '\r', '\n'];

    private readonly DailyWindow[][] _windowsByDay = new DailyWindow[8][]; // indexed by IsoDayOfWeek (1–7)
    private readonly HashSet<LocalDate> _blackoutDates;

    /// <summary>The campaign's own zone: what a lead without a usable timezone of its own is read in.</summary>
    public DateTimeZone CampaignZone { get; }

    public Schedule(DateTimeZone campaignZone, IReadOnlyDictionary<IsoDayOfWeek, IReadOnlyList<DailyWindow>> windowsByDay, IEnumerable<LocalDate> blackoutDates)
    {
        CampaignZone = campaignZone;
        for (var day = IsoDayOfWeek.Monday; day <= IsoDayOfWeek.Sunday; day++)
            _windowsByDay[(int)day] = windowsByDay.TryGetValue(day, out var windows) ? windows.OrderBy(w => w.Start).ToArray() : [];
        _blackoutDates = blackoutDates.ToHashSet();
    }

    /// <summary>The schedule of a campaign, its left-out settings taking their defaults.</summary>
    public static Schedule FromCampaign(CampaignFields campaign)
    {
        var fields = FieldCatalogue.WithDefaults(campaign); // every schedule field but operating_hours has a default
        return FromSettings(fields.Timezone!, fields.SendDays!, fields.SendingWindowStart!, fields.SendingWindowEnd!, fields.OperatingHours,
            fields.BlackoutDates!);
    }

    /// <summary>
    /// The schedule from settings as the campaign stores them: times as `HH:MM`, the zone as an IANA
    /// id. <paramref name="operatingHours"/>, when not null, takes the place of the send days and window.
    /// </summary>
    public static Schedule FromSettings(string timezone, IEnumerable<Weekday> sendDays, string windowStart, string windowEnd,
        OperatingHours? operatingHours, IEnumerable<DateOnly> blackoutDates)
    {
        var windows = new Dictionary<IsoDayOfWeek, IReadOnlyList<DailyWindow>>();
        if (operatingHours is null)
        {
            var window = new DailyWindow(ParseTime(windowStart), ParseTime(windowEnd));
            foreach (var day in sendDays.Distinct())
                windows[ToIso(day)] = [window];
        }
        else
        {
            foreach (var (day, dayWindows) in OperatingDays(operatingHours))
                windows[day] = dayWindows.Select(w => new DailyWindow(ParseTime(w.Start!), ParseTime(w.End!))).ToList();
        }
        return new Schedule(ZoneById(timezone), windows, blackoutDates.Select(LocalDate.FromDateOnly));
    }

    /// <summary>
    /// The zone a lead is read in: its row's `timezone` attribute when that is an IANA id (surrounding
    /// whitespace ignored, as spreadsheets leave it), else the campaign's zone.
    /// </summary>
    public DateTimeZone LeadZone(string? leadTimezone) =>
        leadTimezone is not null && DateTimeZoneProviders.Tzdb.GetZoneOrNull(leadTimezone.Trim(Whitespace)) is { } zone
            ? zone
            : CampaignZone;

    /// <summary>
    /// The first instant at or after <paramref name="earliest"/> at which the schedule, read in
    /// <paramref name="zone"/>, allows sending: <paramref name="earliest"/> itself inside a window,
    /// else the start of the next window. Null when no window opens within <see cref="HorizonDays"/>
    /// (every day left out or blacked out): the caller should treat such a lead as never due.
    /// </summary>
    public Instant? NextAllowed(Instant earliest, DateTimeZone zone)
    {
        var today = earliest.InZone(zone).Date;
        // Starting a day early catches yesterday's window when it runs past midnight. Starts come in
        // order, so the first window still open at `earliest` gives the answer.
        foreach (var (start, end) in Occurrences(today.PlusDays(-1), today.PlusDays(HorizonDays), zone))
            if (end > earliest)
                return start > earliest ? start : earliest;
        return null;
    }

    /// <summary>
    /// The allowed ranges within [<paramref name="from"/>, <paramref name="until"/>), read in
    /// <paramref name="zone"/>, in order, cut at both ends and merged where they touch or overlap.
    /// Snapping a moment in SQL is then: the first range whose end is after it, moved to the later of
    /// the moment and the range's start; a moment past the last range is beyond what was computed.
    /// </summary>
    public IReadOnlyList<(Instant Start, Instant End)> Windows(Instant from, Instant until, DateTimeZone zone)
    {
        var ranges = new List<(Instant Start, Instant End)>();
        if (until <= from)
            return ranges;
        foreach (var (start, end) in Occurrences(from.InZone(zone).Date.PlusDays(-1), until.InZone(zone).Date, zone))
        {
            var (cutStart, cutEnd) = (start < from ? from : start, end > until ? until : end);
            if (cutStart >= cutEnd)
                continue;
            if (ranges.Count > 0 && cutStart <= ranges[^1].End)
                ranges[^1] = (ranges[^1].Start, cutEnd > ranges[^1].End ? cutEnd : ranges[^1].End);
            else
                ranges.Add((cutStart, cutEnd));
        }
        return ranges;
    }

    /// <summary>
    /// Every non-empty window opening on the days from <paramref name="firstDay"/> to
    /// <paramref name="lastDay"/>, as instants, in order of start. Resolving wall times is monotonic
    /// (gap → its end, overlap → its first occurrence), so local order is instant order.
    /// </summary>
    private IEnumerable<(Instant Start, Instant End)> Occurrences(LocalDate firstDay, LocalDate lastDay, DateTimeZone zone)
    {
        for (var day = firstDay; day <= lastDay; day = day.PlusDays(1))
        {
            if (_blackoutDates.Contains(day))
                continue;
            foreach (var window in _windowsByDay[(int)day.DayOfWeek])
            {
                var start = zone.ResolveLocal(day + window.Start, EdgeResolver).ToInstant();
                var end = zone.ResolveLocal((window.PastMidnight ? day.PlusDays(1) : day) + window.End, EdgeResolver).ToInstant();
                if (start < end)
                    yield return (start, end);
            }
        }
    }

    /// <summary>
    /// The campaign's zone by its IANA id. The campaign validator checks ids against the system's
    /// zone data, which may know an id that NodaTime's bundled data does not yet; that zone is used then.
    /// </summary>
    private static DateTimeZone ZoneById(string timezone) =>
        DateTimeZoneProviders.Tzdb.GetZoneOrNull(timezone)
        ?? (TimeZoneInfo.TryFindSystemTimeZoneById(timezone, out var system)
            ? BclDateTimeZone.FromTimeZoneInfo(system)
            : throw new ArgumentException($"'{timezone}' is not a known time zone.", nameof(timezone)));

    private static LocalTime ParseTime(string clock) => ClockTime.Parse(clock).GetValueOrThrow();

    private static IsoDayOfWeek ToIso(Weekday day) => (IsoDayOfWeek)((int)day + 1);

    private static IEnumerable<(IsoDayOfWeek Day, List<TimeWindow> Windows)> OperatingDays(OperatingHours hours) =>
        new (IsoDayOfWeek, List<TimeWindow>?)[]
            {
                (IsoDayOfWeek.Monday, hours.Mon), (IsoDayOfWeek.Tuesday, hours.Tue), (IsoDayOfWeek.Wednesday, hours.Wed),
                (IsoDayOfWeek.Thursday, hours.Thu), (IsoDayOfWeek.Friday, hours.Fri), (IsoDayOfWeek.Saturday, hours.Sat),
                (IsoDayOfWeek.Sunday, hours.Sun),
            }
            .Where(day => day.Item2 is not null)
            .Select(day => (day.Item1, day.Item2!));
}
