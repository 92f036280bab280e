using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Dispatch;
using NodaTime;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>The schedule at lease time: in each lead's zone, around blackout dates, and as a PATCH changes it.</summary>
public sealed class ScheduleDispatchTests
{
    [Fact]
    public async Task A_lead_is_leased_in_its_own_zone_and_one_with_an_unknown_zone_in_the_campaigns()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedLeadsAsync(api, userId,
            [
                Complete(1) with { Attributes = """{"timezone":"Asia/Kolkata"}""" },
                Complete(2) with { Attributes = """{"timezone":"Mars/Base"}""" },
                Complete(3),
            ], "timezone");
        // Open now in UTC; in Kolkata (UTC+05:30) now is hours past the window.
        var now = api.Clock.GetUtcNow();
        var (start, end) = (now.AddMinutes(-30).ToString("HH:mm"), now.AddMinutes(60).ToString("HH:mm"));
        var body = Email(datasetId).With("timezone", "UTC").With("send_days", EveryDay())
            .With("sending_window_start", start).With("sending_window_end", end).With("alias_ids", Aliases(3));
        var campaignId = await LaunchAsync(api, user, userId, body);

        var leased = await LeaseAsync(worker);
        Assert.Equal([2, 3], leased.Select(lease => (int)lease["row_number"]!).Order().ToArray());
        Assert.Empty(await LeaseAsync(worker));

        var kolkata = DateTimeZoneProviders.Tzdb["Asia/Kolkata"];
        var schedule = Schedule.FromSettings("UTC", Enum.GetValues<Weekday>(), start, end, null, []);
        var expected = schedule.NextAllowed(Instant.FromDateTimeOffset(now), kolkata)!.Value;
        var due = (await LeadsAsync(api, campaignId))[1].NextActionAt!.Value;
        Assert.Equal(expected.ToDateTimeOffset(), due);
        Assert.Equal(start, Instant.FromDateTimeOffset(due).InZone(kolkata).TimeOfDay.ToString("HH:mm", null));

        api.Clock.Advance(due - api.Clock.GetUtcNow() + TimeSpan.FromMinutes(1));
        var kolkataLease = Assert.Single(await LeaseAsync(worker));
        Assert.Equal(1, (int)kolkataLease["row_number"]!);
        Assert.Equal("Asia/Kolkata", (string?)kolkataLease["lead"]!["timezone"]);
    }

    [Fact]
    public async Task Nothing_is_leased_on_a_blackout_date_and_the_leads_wait_for_the_next_allowed_day()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 2);
        var now = api.Clock.GetUtcNow();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        // Yesterday too: a window that opened yesterday and runs past midnight would otherwise allow now.
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("timezone", "UTC").With("alias_ids", Aliases(2))
            .With("blackout_dates", new JsonArray(today.AddDays(-1).ToString("yyyy-MM-dd"), today.ToString("yyyy-MM-dd")));
        var campaignId = await LaunchAsync(api, user, userId, body);

        Assert.Empty(await LeaseAsync(worker));
        var windowStart = TimeOnly.Parse((string)body["sending_window_start"]!);
        var tomorrowsWindow = new DateTimeOffset(today.AddDays(1).ToDateTime(windowStart), TimeSpan.Zero);
        Assert.All((await LeadsAsync(api, campaignId)).Values, lead => Assert.Equal(tomorrowsWindow, lead.NextActionAt));

        api.Clock.Advance(tomorrowsWindow - api.Clock.GetUtcNow() + TimeSpan.FromMinutes(1));
        Assert.Equal(2, (await LeaseAsync(worker)).Count);
    }

    [Fact]
    public async Task A_patch_that_opens_the_schedule_makes_the_waiting_leads_due_at_once_and_wakes_a_long_poll()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 3);
        var now = api.Clock.GetUtcNow();
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("timezone", "UTC").With("alias_ids", Aliases(3))
            .With("send_days", DaysExcept(now.DayOfWeek, now.AddDays(-1).DayOfWeek));
        var campaignId = await LaunchAsync(api, user, userId, body);
        Assert.Empty(await LeaseAsync(worker));

        var polling = LeaseAsync(worker, waitSeconds: 15);
        await Task.Delay(300, TestContext.Current.CancellationToken); // the poll is waiting before the PATCH
        await PatchAsync(user, campaignId, new JsonObject { ["send_days"] = EveryDay() });
        var woken = await polling;
        Assert.NotEmpty(woken);
        var leased = woken.Concat(await LeaseAsync(worker)).ToList();
        Assert.Equal([1, 2, 3], leased.Select(lease => (int)lease["row_number"]!).Order().ToArray());
    }

    [Fact]
    public async Task A_patch_that_closes_the_schedule_holds_the_waiting_leads_back()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 3);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("timezone", "UTC").With("alias_ids", Aliases(1));
        var campaignId = await LaunchAsync(api, user, userId, body);
        Assert.Single(await LeaseAsync(worker)); // the one alias paces the others

        var now = api.Clock.GetUtcNow();
        await PatchAsync(user, campaignId, new JsonObject { ["send_days"] = DaysExcept(now.DayOfWeek, now.AddDays(-1).DayOfWeek) });
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(await LeaseAsync(worker));
        var waiting = (await LeadsAsync(api, campaignId)).Values.Where(lead => lead.OpenActionId is null).ToList();
        Assert.Equal(2, waiting.Count);
        Assert.All(waiting, lead => Assert.True(lead.NextActionAt > api.Clock.GetUtcNow().AddHours(1), $"row {lead.RowNumber} is due at {lead.NextActionAt}"));

        await PatchAsync(user, campaignId, new JsonObject { ["send_days"] = EveryDay() });
        Assert.Single(await LeaseAsync(worker));
    }

    [Fact]
    public async Task A_patch_that_opens_the_schedule_makes_an_expired_lease_held_back_by_the_old_one_due_at_once()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("timezone", "UTC").With("alias_ids", Aliases(1));
        var campaignId = await LaunchAsync(api, user, userId, body);
        var taken = Assert.Single(await LeaseAsync(worker, leaseSeconds: 10));

        // Closed while the action is out; its lease ends unreported, and the claim moves it to the next allowed day.
        var now = api.Clock.GetUtcNow();
        await PatchAsync(user, campaignId, new JsonObject { ["send_days"] = DaysExcept(now.DayOfWeek, now.AddDays(-1).DayOfWeek) });
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(await LeaseAsync(worker));
        Assert.True((await LeadsAsync(api, campaignId))[1].NextActionAt > api.Clock.GetUtcNow().AddHours(1));

        await PatchAsync(user, campaignId, new JsonObject { ["send_days"] = EveryDay() });
        var again = Assert.Single(await LeaseAsync(worker));
        Assert.Equal((string)taken["action_id"]!, (string)again["action_id"]!);
    }

    [Fact]
    public async Task Widening_the_schedule_never_makes_a_step_due_before_its_delay()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("timezone", "UTC").With("alias_ids", Aliases(1))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1);
        var campaignId = await LaunchAsync(api, user, userId, body);
        var first = Assert.Single(await LeaseAsync(worker));
        var (status, answer) = await ReportAsync(worker, first);
        Assert.True(status == 200, answer.ToJsonString());
        var stepTwoDue = DateTimeOffset.Parse((string)answer["next_action_at"]!);

        var now = api.Clock.GetUtcNow();
        await PatchAsync(user, campaignId, new JsonObject { ["sending_window_start"] = now.AddHours(-3).ToString("HH:mm") });
        Assert.Empty(await LeaseAsync(worker));
        var retimed = (await LeadsAsync(api, campaignId))[1].NextActionAt!.Value;
        Assert.True((retimed - stepTwoDue).Duration() < TimeSpan.FromMilliseconds(1), $"step 2 was due at {stepTwoDue:O}, now at {retimed:O}");
        api.Clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Empty(await LeaseAsync(worker));

        api.Clock.Advance(TimeSpan.FromMinutes(2));
        var second = Assert.Single(await LeaseAsync(worker));
        Assert.Equal(2, (int)second["step"]!);
    }
}
