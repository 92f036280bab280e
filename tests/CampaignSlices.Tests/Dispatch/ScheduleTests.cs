using System.Globalization;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Dispatch;
using NodaTime;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>
/// The next allowed moment and the allowed ranges, checked against hand-worked instants. Expected
/// values are written as local time with the offset the IANA rules give that moment, so each one
/// can be read against the zone's rules. Reference week: Monday 2026-06-01 to Sunday 2026-06-07.
/// </summary>
public class ScheduleTests
{
    private static readonly Weekday[] Weekdays = [Weekday.Mon, Weekday.Tue, Weekday.Wed, Weekday.Thu, Weekday.Fri];
    private static readonly Weekday[] EveryDay = [.. Enum.GetValues<Weekday>()];

    private static Instant At(string moment) => Instant.FromDateTimeOffset(DateTimeOffset.Parse(moment, CultureInfo.InvariantCulture));

    private static DateTimeZone Zone(string id) => DateTimeZoneProviders.Tzdb[id];

    private static Schedule Window(string start, string end, Weekday[]? days = null, string zone = "UTC", params DateOnly[] blackouts) =>
        Schedule.FromSettings(zone, days ?? Weekdays, start, end, null, blackouts);

    private static Schedule Hours(OperatingHours hours, params DateOnly[] blackouts) =>
        Schedule.FromSettings("UTC", Weekdays, "09:00", "17:00", hours, blackouts);

    private static List<TimeWindow> Slots(params string[] ranges) =>
        ranges.Select(range => range.Split('-')).Select(edges => new TimeWindow { Start = edges[0], End = edges[1] }).ToList();

    private static Instant? Next(Schedule schedule, string earliest, string zone = "UTC") => schedule.NextAllowed(At(earliest), Zone(zone));

    private static (Instant, Instant)[] Ranges(params (string Start, string End)[] ranges) =>
        ranges.Select(range => (At(range.Start), At(range.End))).ToArray();

    // ---- one window a day, Monday to Friday ----

    [Theory]
    [InlineData("2026-06-01T10:15Z", "2026-06-01T10:15Z")] // inside: the moment itself
    [InlineData("2026-06-01T09:00Z", "2026-06-01T09:00Z")] // the start is allowed
    [InlineData("2026-06-01T06:00Z", "2026-06-01T09:00Z")] // before: that day's start
    [InlineData("2026-06-01T17:00Z", "2026-06-02T09:00Z")] // the end is not allowed
    [InlineData("2026-06-01T18:00Z", "2026-06-02T09:00Z")] // after: the next day's start
    [InlineData("2026-06-05T17:30Z", "2026-06-08T09:00Z")] // Friday evening: Monday
    [InlineData("2026-06-06T12:00Z", "2026-06-08T09:00Z")] // Saturday, not a send day
    [InlineData("2026-06-07T23:59Z", "2026-06-08T09:00Z")] // Sunday
    public void A_moment_moves_to_the_next_window_of_a_send_day(string earliest, string expected) =>
        Assert.Equal(At(expected), Next(Window("09:00", "17:00"), earliest));

    [Fact]
    public void Send_days_are_read_as_given()
    {
        var weekends = Window("10:00", "16:00", [Weekday.Sat, Weekday.Sun]);
        Assert.Equal(At("2026-06-06T10:00Z"), Next(weekends, "2026-06-01T12:00Z"));
        Assert.Equal(At("2026-06-07T10:00Z"), Next(weekends, "2026-06-06T16:00Z"));
        Assert.Equal(At("2026-06-13T10:00Z"), Next(weekends, "2026-06-07T16:00Z"));
    }

    [Fact]
    public void A_blackout_date_sends_nothing()
    {
        var schedule = Window("09:00", "17:00", blackouts: new DateOnly(2026, 6, 2));
        Assert.Equal(At("2026-06-03T09:00Z"), Next(schedule, "2026-06-01T18:00Z"));
        Assert.Equal(At("2026-06-03T09:00Z"), Next(schedule, "2026-06-02T10:00Z"));
        Assert.Equal(At("2026-06-01T16:59Z"), Next(schedule, "2026-06-01T16:59Z"));
    }

    [Fact]
    public void Blackout_dates_and_weekends_add_up()
    {
        var schedule = Window("09:00", "17:00", blackouts: [new DateOnly(2026, 6, 5), new DateOnly(2026, 6, 8)]);
        Assert.Equal(At("2026-06-09T09:00Z"), Next(schedule, "2026-06-04T17:00Z"));
    }

    // ---- the lead's zone ----

    [Fact]
    public void The_schedule_is_read_in_the_lead_zone()
    {
        var schedule = Window("09:00", "17:00", zone: "America/New_York");
        // 08:30Z on Monday 1 June is 09:30 BST in London (inside) and 04:30 EDT in New York (before).
        Assert.Equal(At("2026-06-01T08:30Z"), Next(schedule, "2026-06-01T08:30Z", "Europe/London"));
        Assert.Equal(At("2026-06-01T09:00-04:00"), Next(schedule, "2026-06-01T08:30Z", "America/New_York"));
    }

    [Fact]
    public void Kolkata_is_half_an_hour_off_the_hour_all_year()
    {
        var schedule = Window("09:00", "17:00", EveryDay, "Asia/Kolkata");
        // 02:00Z is 07:30 IST: the window opens at 09:00 IST, 03:30Z, on either side of other zones' changes.
        Assert.Equal(At("2026-03-08T03:30Z"), Next(schedule, "2026-03-08T02:00Z", "Asia/Kolkata"));
        Assert.Equal(At("2026-11-01T03:30Z"), Next(schedule, "2026-11-01T02:00Z", "Asia/Kolkata"));
        Assert.Equal(Ranges(("2026-03-08T09:00+05:30", "2026-03-08T17:00+05:30")),
            schedule.Windows(At("2026-03-08T00:00+05:30"), At("2026-03-09T00:00+05:30"), Zone("Asia/Kolkata")));
    }

    [Fact]
    public void A_blackout_date_is_a_date_in_the_lead_zone()
    {
        var schedule = Window("09:00", "17:00", blackouts: new DateOnly(2026, 6, 2));
        // 20:00Z on Monday is already 01:30 on Tuesday, the blackout date, in Kolkata.
        Assert.Equal(At("2026-06-03T09:00+05:30"), Next(schedule, "2026-06-01T20:00Z", "Asia/Kolkata"));
        Assert.Equal(At("2026-06-03T09:00Z"), Next(schedule, "2026-06-01T20:00Z", "UTC"));
    }

    [Fact]
    public void A_lead_zone_is_its_own_when_valid_else_the_campaign_zone()
    {
        var schedule = Window("09:00", "17:00", zone: "America/New_York");
        Assert.Equal(Zone("America/New_York"), schedule.CampaignZone);
        Assert.Equal(Zone("Europe/London"), schedule.LeadZone("Europe/London"));
        Assert.Equal(Zone("Asia/Kolkata"), schedule.LeadZone(" Asia/Kolkata\t"));
        Assert.Equal(Zone("America/New_York"), schedule.LeadZone("Mars/Olympus_Mons"));
        Assert.Equal(Zone("America/New_York"), schedule.LeadZone(""));
        Assert.Equal(Zone("America/New_York"), schedule.LeadZone(null));
    }

    [Fact]
    public void A_campaign_without_schedule_settings_takes_the_defaults()
    {
        var schedule = Schedule.FromCampaign(new CampaignFields());
        Assert.Equal(DateTimeZone.Utc, schedule.CampaignZone);
        Assert.Equal(At("2026-06-01T09:00Z"), Next(schedule, "2026-05-30T12:00Z")); // a Saturday → Monday 09:00
        Assert.Equal(At("2026-06-02T09:00Z"), Next(schedule, "2026-06-01T17:00Z"));
    }

    [Fact]
    public void A_campaign_schedule_reads_its_fields()
    {
        var fields = new CampaignFields
        {
            Timezone = "Europe/London", SendDays = [Weekday.Sat], SendingWindowStart = "22:00", SendingWindowEnd = "02:00",
            BlackoutDates = [new DateOnly(2026, 6, 6)],
        };
        var schedule = Schedule.FromCampaign(fields);
        Assert.Equal(At("2026-06-13T22:00+01:00"), Next(schedule, "2026-06-01T00:00Z", "Europe/London"));
    }

    // ---- a window past midnight ----

    [Theory]
    [InlineData("2026-06-01T23:00Z", "2026-06-01T23:00Z")] // Monday's window, before midnight
    [InlineData("2026-06-02T03:00Z", "2026-06-02T03:00Z")] // Monday's window, after midnight
    [InlineData("2026-06-06T03:00Z", "2026-06-06T03:00Z")] // Friday's window runs into Saturday, not a send day
    [InlineData("2026-06-01T03:00Z", "2026-06-01T22:00Z")] // Sunday opens no window, so early Monday waits
    [InlineData("2026-06-06T23:00Z", "2026-06-08T22:00Z")] // Saturday night: Monday's window
    [InlineData("2026-06-02T06:00Z", "2026-06-02T22:00Z")] // the end is not allowed
    [InlineData("2026-06-02T12:00Z", "2026-06-02T22:00Z")] // between windows
    public void A_window_past_midnight_belongs_to_the_day_it_starts(string earliest, string expected) =>
        Assert.Equal(At(expected), Next(Window("22:00", "06:00"), earliest));

    [Fact]
    public void A_blackout_start_day_blocks_both_halves_of_its_window()
    {
        var schedule = Window("22:00", "06:00", blackouts: new DateOnly(2026, 6, 1));
        Assert.Equal(At("2026-06-02T22:00Z"), Next(schedule, "2026-06-01T23:00Z"));
        Assert.Equal(At("2026-06-02T22:00Z"), Next(schedule, "2026-06-02T03:00Z"));
    }

    [Fact]
    public void A_blackout_on_the_next_day_leaves_the_after_midnight_half()
    {
        var schedule = Window("22:00", "06:00", blackouts: new DateOnly(2026, 6, 2));
        Assert.Equal(At("2026-06-02T03:00Z"), Next(schedule, "2026-06-02T03:00Z"));
        Assert.Equal(At("2026-06-03T22:00Z"), Next(schedule, "2026-06-02T12:00Z"));
    }

    // ---- operating hours ----

    private static readonly OperatingHours SplitHours = new()
    {
        Mon = Slots("13:00-17:00", "09:00-12:00"), // given out of order on purpose
        Tue = Slots("09:00-12:00", "12:00-15:00"), // touching
        Wed = [],
        Sat = Slots("10:00-11:00"),
    };

    [Theory]
    [InlineData("2026-06-01T08:00Z", "2026-06-01T09:00Z")]
    [InlineData("2026-06-01T11:00Z", "2026-06-01T11:00Z")]
    [InlineData("2026-06-01T12:00Z", "2026-06-01T13:00Z")] // the gap between Monday's windows
    [InlineData("2026-06-01T12:30Z", "2026-06-01T13:00Z")]
    [InlineData("2026-06-01T17:00Z", "2026-06-02T09:00Z")]
    [InlineData("2026-06-02T12:00Z", "2026-06-02T12:00Z")] // where Tuesday's windows touch
    [InlineData("2026-06-02T15:00Z", "2026-06-06T10:00Z")] // Wednesday empty, Thursday and Friday left out
    [InlineData("2026-06-06T11:00Z", "2026-06-08T09:00Z")]
    public void Operating_hours_give_each_day_its_windows(string earliest, string expected) =>
        Assert.Equal(At(expected), Next(Hours(SplitHours), earliest));

    [Fact]
    public void Operating_hours_replace_the_send_days_and_window()
    {
        var schedule = Hours(new OperatingHours { Sat = Slots("10:00-11:00") }); // send days say Monday to Friday
        Assert.Equal(At("2026-06-06T10:00Z"), Next(schedule, "2026-06-01T10:00Z"));
    }

    [Fact]
    public void Operating_hours_and_blackout_dates()
    {
        var schedule = Hours(SplitHours, new DateOnly(2026, 6, 2));
        Assert.Equal(At("2026-06-06T10:00Z"), Next(schedule, "2026-06-01T17:00Z"));
    }

    // ---- Windows ----

    [Fact]
    public void Windows_lists_each_allowed_range_of_the_interval()
    {
        var ranges = Window("09:00", "17:00").Windows(At("2026-06-01T00:00Z"), At("2026-06-08T00:00Z"), DateTimeZone.Utc);
        Assert.Equal(Ranges(
            ("2026-06-01T09:00Z", "2026-06-01T17:00Z"), ("2026-06-02T09:00Z", "2026-06-02T17:00Z"), ("2026-06-03T09:00Z", "2026-06-03T17:00Z"),
            ("2026-06-04T09:00Z", "2026-06-04T17:00Z"), ("2026-06-05T09:00Z", "2026-06-05T17:00Z")), ranges);
    }

    [Fact]
    public void Windows_merges_touching_windows()
    {
        var ranges = Hours(SplitHours).Windows(At("2026-06-01T00:00Z"), At("2026-06-08T00:00Z"), DateTimeZone.Utc);
        Assert.Equal(Ranges(
            ("2026-06-01T09:00Z", "2026-06-01T12:00Z"), ("2026-06-01T13:00Z", "2026-06-01T17:00Z"),
            ("2026-06-02T09:00Z", "2026-06-02T15:00Z"),
            ("2026-06-06T10:00Z", "2026-06-06T11:00Z")), ranges);
    }

    [Fact]
    public void Windows_merges_a_window_ending_at_midnight_with_the_next_day_starting_there()
    {
        var days = new Dictionary<IsoDayOfWeek, IReadOnlyList<Schedule.DailyWindow>>
        {
            [IsoDayOfWeek.Monday] = [new(new LocalTime(22, 0), LocalTime.Midnight)],
            [IsoDayOfWeek.Tuesday] = [new(LocalTime.Midnight, new LocalTime(3, 0))],
        };
        var schedule = new Schedule(DateTimeZone.Utc, days, []);
        Assert.Equal(Ranges(("2026-06-01T22:00Z", "2026-06-02T03:00Z")),
            schedule.Windows(At("2026-06-01T00:00Z"), At("2026-06-03T00:00Z"), DateTimeZone.Utc));
        Assert.Equal(At("2026-06-02T00:00Z"), Next(schedule, "2026-06-02T00:00Z"));
    }

    [Fact]
    public void Windows_are_cut_at_the_interval_edges()
    {
        var schedule = Window("22:00", "06:00");
        // Friday's window reaches into Saturday; Monday's is cut at Tuesday midnight.
        Assert.Equal(Ranges(("2026-06-06T00:00Z", "2026-06-06T06:00Z"), ("2026-06-08T22:00Z", "2026-06-09T00:00Z")),
            schedule.Windows(At("2026-06-06T00:00Z"), At("2026-06-09T00:00Z"), DateTimeZone.Utc));
        Assert.Equal(Ranges(("2026-06-01T10:00Z", "2026-06-01T14:00Z")),
            Window("09:00", "17:00").Windows(At("2026-06-01T10:00Z"), At("2026-06-01T14:00Z"), DateTimeZone.Utc));
        Assert.Empty(schedule.Windows(At("2026-06-02T00:00Z"), At("2026-06-02T00:00Z"), DateTimeZone.Utc));
    }

    // ---- nothing allowed ----

    [Fact]
    public void A_schedule_that_allows_nothing_has_no_next_moment()
    {
        var empty = Hours(new OperatingHours { Mon = [], Tue = [] });
        Assert.Null(Next(empty, "2026-06-01T00:00Z"));
        Assert.Empty(empty.Windows(At("2026-06-01T00:00Z"), At("2027-06-01T00:00Z"), DateTimeZone.Utc));
    }

    [Fact]
    public void The_search_stops_after_two_years()
    {
        // Mondays only, from Monday 1 June 2026: 104 Mondays blacked out leave the one 728 days on,
        // inside the horizon; blacking that out too leaves the next at 735 days, beyond it.
        var mondays = Enumerable.Range(0, 105).Select(week => new DateOnly(2026, 6, 1).AddDays(7 * week)).ToArray();
        Assert.Equal(At("2028-05-29T09:00Z"), Next(Window("09:00", "17:00", [Weekday.Mon], "UTC", mondays[..104]), "2026-06-01T00:00Z"));
        Assert.Null(Next(Window("09:00", "17:00", [Weekday.Mon], "UTC", mondays), "2026-06-01T00:00Z"));
    }

    // ---- daylight saving: America/New_York, 2026-03-08 02:00 EST → 03:00 EDT and 2026-11-01 02:00 EDT → 01:00 EST ----

    [Fact]
    public void New_York_a_window_starting_in_the_skipped_hour_opens_when_the_gap_ends()
    {
        var schedule = Window("02:30", "05:00", EveryDay, "America/New_York");
        var zone = Zone("America/New_York");
        Assert.Equal(At("2026-03-08T03:00-04:00"), Next(schedule, "2026-03-08T00:00-05:00", "America/New_York"));
        Assert.Equal(At("2026-03-07T02:30-05:00"), Next(schedule, "2026-03-07T00:00-05:00", "America/New_York"));
        Assert.Equal(Ranges(("2026-03-08T03:00-04:00", "2026-03-08T05:00-04:00")),
            schedule.Windows(At("2026-03-08T00:00-05:00"), At("2026-03-09T00:00-04:00"), zone));
    }

    [Fact]
    public void New_York_a_window_inside_the_skipped_hour_is_empty_that_day()
    {
        var schedule = Window("02:10", "02:50", EveryDay, "America/New_York");
        Assert.Equal(At("2026-03-09T02:10-04:00"), Next(schedule, "2026-03-08T00:00-05:00", "America/New_York"));
        Assert.Empty(schedule.Windows(At("2026-03-08T00:00-05:00"), At("2026-03-09T00:00-04:00"), Zone("America/New_York")));
    }

    [Fact]
    public void New_York_a_window_spanning_the_spring_change_is_an_hour_short()
    {
        var ranges = Window("01:00", "04:00", EveryDay, "America/New_York")
            .Windows(At("2026-03-08T00:00-05:00"), At("2026-03-09T00:00-04:00"), Zone("America/New_York"));
        Assert.Equal(Ranges(("2026-03-08T06:00Z", "2026-03-08T08:00Z")), ranges);
        Assert.Equal(Duration.FromHours(2), ranges[0].End - ranges[0].Start);
    }

    [Fact]
    public void New_York_a_window_edge_in_the_repeated_hour_is_its_first_occurrence()
    {
        var zone = Zone("America/New_York");
        // Opening at 01:30: the first 01:30 (EDT), and it runs to 03:00 EST, two and a half hours.
        var opening = Window("01:30", "03:00", EveryDay, "America/New_York");
        Assert.Equal(At("2026-11-01T01:30-04:00"), Next(opening, "2026-11-01T00:00-04:00", "America/New_York"));
        Assert.Equal(At("2026-11-01T01:15-05:00"), Next(opening, "2026-11-01T01:15-05:00", "America/New_York"));
        Assert.Equal(Ranges(("2026-11-01T05:30Z", "2026-11-01T08:00Z")),
            opening.Windows(At("2026-11-01T00:00-04:00"), At("2026-11-02T00:00-05:00"), zone));
        // Closing at 01:30: the first 01:30 too, so the repeated 01:00–01:30 EST is outside.
        var closing = Window("00:00", "01:30", EveryDay, "America/New_York");
        Assert.Equal(At("2026-11-01T01:20-04:00"), Next(closing, "2026-11-01T01:20-04:00", "America/New_York"));
        Assert.Equal(At("2026-11-02T00:00-05:00"), Next(closing, "2026-11-01T01:00-05:00", "America/New_York"));
    }

    [Fact]
    public void New_York_a_window_spanning_the_autumn_change_is_an_hour_longer()
    {
        var ranges = Window("00:00", "04:00", EveryDay, "America/New_York")
            .Windows(At("2026-11-01T00:00-04:00"), At("2026-11-02T00:00-05:00"), Zone("America/New_York"));
        Assert.Equal(Ranges(("2026-11-01T04:00Z", "2026-11-01T09:00Z")), ranges);
        Assert.Equal(Duration.FromHours(5), ranges[0].End - ranges[0].Start);
    }

    // ---- Europe/London, 2026-03-29 01:00 GMT → 02:00 BST and 2026-10-25 02:00 BST → 01:00 GMT ----

    [Fact]
    public void London_spring()
    {
        var zone = Zone("Europe/London");
        var inGap = Window("01:30", "03:00", EveryDay, "Europe/London");
        Assert.Equal(At("2026-03-29T02:00+01:00"), Next(inGap, "2026-03-29T00:00Z", "Europe/London"));
        Assert.Equal(Ranges(("2026-03-29T01:00Z", "2026-03-29T02:00Z")), inGap.Windows(At("2026-03-29T00:00Z"), At("2026-03-30T00:00+01:00"), zone));

        var spanning = Window("00:00", "06:00", EveryDay, "Europe/London").Windows(At("2026-03-29T00:00Z"), At("2026-03-30T00:00+01:00"), zone);
        Assert.Equal(Duration.FromHours(5), spanning[0].End - spanning[0].Start);

        // A window past midnight across the change: Saturday 22:00 GMT to Sunday 06:00 BST, seven hours.
        var overnight = Window("22:00", "06:00", EveryDay, "Europe/London").Windows(At("2026-03-28T12:00Z"), At("2026-03-29T12:00Z"), zone);
        Assert.Equal(Ranges(("2026-03-28T22:00Z", "2026-03-29T05:00Z")), overnight);
    }

    [Fact]
    public void London_autumn()
    {
        var zone = Zone("Europe/London");
        var inRepeat = Window("01:30", "04:00", EveryDay, "Europe/London");
        Assert.Equal(At("2026-10-25T01:30+01:00"), Next(inRepeat, "2026-10-25T00:00+01:00", "Europe/London"));
        Assert.Equal(Ranges(("2026-10-25T00:30Z", "2026-10-25T04:00Z")), inRepeat.Windows(At("2026-10-24T23:00Z"), At("2026-10-26T00:00Z"), zone));

        var spanning = Window("00:00", "06:00", EveryDay, "Europe/London").Windows(At("2026-10-24T23:00Z"), At("2026-10-26T00:00Z"), zone);
        Assert.Equal(Ranges(("2026-10-24T23:00Z", "2026-10-25T06:00Z")), spanning);
        Assert.Equal(Duration.FromHours(7), spanning[0].End - spanning[0].Start);
    }

    // ---- Australia/Lord_Howe, half-hour changes: 2026-04-05 02:00 (+11) → 01:30 (+10:30) and 2026-10-04 02:00 (+10:30) → 02:30 (+11) ----

    [Fact]
    public void Lord_Howe_autumn_repeats_half_an_hour()
    {
        var zone = Zone("Australia/Lord_Howe");
        var inRepeat = Window("01:45", "03:00", EveryDay, "Australia/Lord_Howe");
        Assert.Equal(At("2026-04-05T01:45+11:00"), Next(inRepeat, "2026-04-05T00:00+11:00", "Australia/Lord_Howe"));
        var ranges = inRepeat.Windows(At("2026-04-05T00:00+11:00"), At("2026-04-06T00:00+10:30"), zone);
        Assert.Equal(Ranges(("2026-04-04T14:45Z", "2026-04-04T16:30Z")), ranges);
        Assert.Equal(Duration.FromMinutes(105), ranges[0].End - ranges[0].Start);

        var spanning = Window("00:00", "06:00", EveryDay, "Australia/Lord_Howe").Windows(At("2026-04-05T00:00+11:00"), At("2026-04-06T00:00+10:30"), zone);
        Assert.Equal(Ranges(("2026-04-04T13:00Z", "2026-04-04T19:30Z")), spanning);
    }

    [Fact]
    public void Lord_Howe_spring_skips_half_an_hour()
    {
        var zone = Zone("Australia/Lord_Howe");
        var inGap = Window("02:15", "04:00", EveryDay, "Australia/Lord_Howe");
        Assert.Equal(At("2026-10-04T02:30+11:00"), Next(inGap, "2026-10-04T00:00+10:30", "Australia/Lord_Howe"));
        Assert.Equal(Ranges(("2026-10-03T15:30Z", "2026-10-03T17:00Z")), inGap.Windows(At("2026-10-04T00:00+10:30"), At("2026-10-05T00:00+11:00"), zone));

        var spanning = Window("00:00", "06:00", EveryDay, "Australia/Lord_Howe").Windows(At("2026-10-04T00:00+10:30"), At("2026-10-05T00:00+11:00"), zone);
        Assert.Equal(Ranges(("2026-10-03T13:30Z", "2026-10-03T19:00Z")), spanning);
        Assert.Equal(Duration.FromMinutes(330), spanning[0].End - spanning[0].Start);
    }
}
