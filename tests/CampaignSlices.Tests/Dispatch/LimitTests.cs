using System.Text.Json.Nodes;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>daily_limit, account_limits and min_interval_seconds as the claim applies them, one service and database per test.</summary>
public sealed class LimitTests
{
    [Fact]
    public async Task Daily_limit_caps_new_actions_per_campaign_local_day_and_an_action_offered_again_counts_once()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 10);
        // A zone where it is about noon now: its next day begins about twelve hours ahead, so a day of 24 hours since
        // the first lease would not explain the new leases.
        var now = api.Clock.GetUtcNow();
        var offset = 12 - now.Hour;
        var zone = offset == 0 ? "UTC" : offset > 0 ? $"Etc/GMT-{offset}" : $"Etc/GMT+{-offset}";
        var localNow = now.ToOffset(TimeSpan.FromHours(offset));
        var nextLocalDay = new DateTimeOffset(localNow.Date.AddDays(1), localNow.Offset);
        var body = Email(datasetId).With("timezone", zone).With("send_days", EveryDay())
            .With("sending_window_start", "00:00").With("sending_window_end", "23:30")
            .With("min_interval_seconds", 60).With("daily_limit", 3).With("alias_ids", Aliases(10));
        var campaignId = await LaunchAsync(api, user, userId, body);

        var first = await LeaseAsync(worker, max: 2, leaseSeconds: 10);
        Assert.Equal(2, first.Count);
        // The two leases expire unreported; once their senders' interval has passed they are offered again, beside
        // the one new action the day still allows: offered again, they do not count a second time.
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        var second = await LeaseAsync(worker);
        Assert.Equal(3, second.Count);
        Assert.Superset(ActionIds(first).ToHashSet(), ActionIds(second).ToHashSet());
        Assert.All(second.Where(lease => ActionIds(first).Contains((string)lease["action_id"]!)),
            lease => Assert.Equal(1, (int)lease["attempt"]!));
        foreach (var lease in second)
            Assert.Equal(200, (await ReportAsync(worker, lease)).Status);
        Assert.Empty(await LeaseAsync(worker));
        api.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty(await LeaseAsync(worker));

        api.Clock.Advance(nextLocalDay + TimeSpan.FromMinutes(5) - api.Clock.GetUtcNow());
        Assert.True(api.Clock.GetUtcNow() - now < TimeSpan.FromHours(13));
        var nextDay = await LeaseAsync(worker);
        Assert.Equal(3, nextDay.Count);
        Assert.All(nextDay, lease => Assert.Equal(1, (int)lease["step"]!));
        Assert.Empty(ActionIds(nextDay).Intersect(ActionIds(second)));
        Assert.Empty(await LeaseAsync(worker));

        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(6, await db.ExecuteScalarAsync<int>("select count(*) from actions where campaign_id = @campaignId", new { campaignId }));
    }

    [Fact]
    public async Task An_account_limit_caps_its_alias_for_the_day_while_the_other_alias_goes_on()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 6);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", new JsonArray("a-1", "a-2"))
            .With("account_limits", new JsonArray(new JsonObject { ["account_id"] = "a-1", ["daily_limit"] = 1 }));
        var campaignId = await LaunchAsync(api, user, userId, body);

        var leased = new List<JsonObject>();
        for (var round = 0; round < 4; round++)
        {
            leased.AddRange(await LeaseAsync(worker));
            api.Clock.Advance(TimeSpan.FromSeconds(61));
        }
        var bySender = leased.GroupBy(lease => (string)lease["sender"]!["alias_id"]!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, bySender.GetValueOrDefault("a-1"));
        // a-2 is paced by min_interval alone: one a round.
        Assert.Equal(4, bySender.GetValueOrDefault("a-2"));
        Assert.Equal(leased.Count, ActionIds(leased).Distinct().Count());

        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from actions where campaign_id = @campaignId and sender_id = 'a-1'", new { campaignId }));
    }

    [Fact]
    public async Task Min_interval_spaces_the_leases_of_one_sender()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 4);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", new JsonArray("a-1")).With("min_interval_seconds", 120);
        var campaignId = await LaunchAsync(api, user, userId, body);

        var first = Assert.Single(await LeaseAsync(worker));
        Assert.Empty(await LeaseAsync(worker));
        api.Clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Empty(await LeaseAsync(worker));
        // The held-back leads wait for the sender, not for another scan.
        var waiting = (await LeadsAsync(api, campaignId)).Values.Where(lead => lead.OpenActionId is null).ToList();
        Assert.Equal(3, waiting.Count);
        Assert.All(waiting, lead => Assert.True(lead.NextActionAt > api.Clock.GetUtcNow(), $"row {lead.RowNumber} is due at {lead.NextActionAt}"));

        api.Clock.Advance(TimeSpan.FromSeconds(60));
        var second = Assert.Single(await LeaseAsync(worker));
        Assert.NotEqual((int)first["row_number"]!, (int)second["row_number"]!);
        Assert.Empty(await LeaseAsync(worker));
    }

    [Fact]
    public async Task Leads_a_sender_holds_back_come_due_one_slot_apart_and_a_limits_patch_gives_them_new_slots()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 5);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", new JsonArray("a-1")).With("min_interval_seconds", 60);
        var campaignId = await LaunchAsync(api, user, userId, body);

        var first = Assert.Single(await LeaseAsync(worker));
        var leasedAt = api.Clock.GetUtcNow();
        Assert.Empty(await LeaseAsync(worker));
        // The four waiting leads took the sender's slots in turn: its free moment, then 2 % more than the interval apart;
        // another claim leaves them where they are.
        var slots = await WaitingDuesAsync(api, campaignId);
        Assert.Equal(4, slots.Count);
        Assert.InRange(slots[0] - leasedAt, TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(61));
        for (var i = 1; i < slots.Count; i++)
            Assert.Equal(TimeSpan.FromSeconds(61.2), slots[i] - slots[i - 1]);
        Assert.Empty(await LeaseAsync(worker));
        Assert.Equal(slots, await WaitingDuesAsync(api, campaignId));

        // Each slot's lead goes when its slot comes, one at a time.
        api.Clock.Advance(slots[0] - api.Clock.GetUtcNow());
        var second = Assert.Single(await LeaseAsync(worker));
        Assert.NotEqual((int)first["row_number"]!, (int)second["row_number"]!);
        Assert.Empty(await LeaseAsync(worker));
        api.Clock.Advance(slots[1] - api.Clock.GetUtcNow());
        Assert.Single(await LeaseAsync(worker));
        Assert.Empty(await LeaseAsync(worker));

        // A new interval re-times the waiting leads at once; the next claim spaces them by it.
        await PatchAsync(user, campaignId, new JsonObject { ["min_interval_seconds"] = 120 });
        var patchedAt = api.Clock.GetUtcNow();
        Assert.Empty(await LeaseAsync(worker));
        var respaced = await WaitingDuesAsync(api, campaignId);
        Assert.Equal(2, respaced.Count);
        Assert.InRange(respaced[0] - patchedAt, TimeSpan.FromSeconds(110), TimeSpan.FromSeconds(121));
        Assert.Equal(TimeSpan.FromSeconds(122.4), respaced[1] - respaced[0]);
    }

    /// <summary>The due times of a campaign's leads that wait without an action, earliest first.</summary>
    private static async Task<List<DateTimeOffset>> WaitingDuesAsync(DispatchFactory api, Guid campaignId) =>
        [.. (await LeadsAsync(api, campaignId)).Values.Where(lead => lead.OpenActionId is null && lead.NextActionAt is not null)
            .Select(lead => lead.NextActionAt!.Value).Order()];
}
