using System.Text.Json.Nodes;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>GET …/stats: counts that add up, the reason nothing is sent, and the estimate on a known schedule.</summary>
public sealed class StatsTests
{
    [Fact]
    public async Task At_completion_the_counts_add_up_and_the_reason_is_ended()
    {
        await using var api = await StartAsync();
        var (user, campaignId) = await LaunchOneStepAsync(api, leads: 4);
        var worker = api.WorkerClient();
        Assert.Null((await StatsAsync(user, campaignId))["not_sending_reason"]);
        var leases = await LeaseAsync(worker);
        Assert.Equal(4, leases.Count);
        // Everything is out with the worker: nothing more is due until it reports.
        var leased = await StatsAsync(user, campaignId);
        Assert.Equal("nothing_due", (string)leased["not_sending_reason"]!);
        Assert.Equal(4, (int)leased["actions"]!["leased"]!);
        await ReportAsync(worker, leases[0], "bounced");
        foreach (var lease in leases.Skip(1))
            await ReportAsync(worker, lease);

        var stats = await StatsAsync(user, campaignId);
        Assert.Equal("completed", (string)stats["status"]!);
        var leads = stats["leads"]!;
        Assert.Equal(4, (int)leads["total"]!);
        Assert.Equal((3, 1, 4), ((int)leads["completed"]!, (int)leads["failed"]!, (int)leads["processed"]!));
        Assert.Equal(0, (int)leads["pending"]! + (int)leads["active"]!);
        Assert.Equal((0, 0, 4), ((int)stats["actions"]!["waiting"]!, (int)stats["actions"]!["leased"]!, (int)stats["actions"]!["done"]!));
        Assert.Equal("""[{"step":1,"variant":null,"outcome":"bounced","count":1},{"step":1,"variant":null,"outcome":"sent","count":3}]""",
            stats["outcomes"]!.ToJsonString());
        Assert.Equal("ended", (string)stats["not_sending_reason"]!);
        Assert.Null(stats["estimated_completion_at"]);
        Assert.Equal(4, (int)(await GetAsync(user, campaignId))["processed_leads"]!);
    }

    [Fact]
    public async Task Each_reason_is_the_one_the_lease_meets()
    {
        await using var api = await StartAsync();
        var worker = api.WorkerClient();

        var (user, limited) = await LaunchOneStepAsync(api, leads: 3, edit: body => body.With("daily_limit", 1));
        Assert.Single(await LeaseAsync(worker));
        Assert.Equal("daily_limit_reached", (string)(await StatsAsync(user, limited))["not_sending_reason"]!);
        Assert.Empty(await LeaseAsync(worker));
        await LifecycleAsync(user, limited, "cancel");

        var (_, paced) = await LaunchOneStepAsync(api, leads: 3, user: user, edit: body => body.With("alias_ids", Aliases(1)).With("min_interval_seconds", 120));
        Assert.Single(await LeaseAsync(worker));
        Assert.Equal("senders_at_limit", (string)(await StatsAsync(user, paced))["not_sending_reason"]!);
        await LifecycleAsync(user, paced, "pause");
        Assert.Equal("paused", (string)(await StatsAsync(user, paced))["not_sending_reason"]!);
        await LifecycleAsync(user, paced, "cancel");
        Assert.Equal("ended", (string)(await StatsAsync(user, paced))["not_sending_reason"]!);

        // Yesterday too: the window around now may have opened yesterday and run past midnight.
        var today = api.Clock.GetUtcNow().DayOfWeek;
        var (_, closed) = await LaunchOneStepAsync(api, leads: 2, user: user,
            edit: body => body.With("send_days", DaysExcept(today, (DayOfWeek)(((int)today + 6) % 7))));
        Assert.Equal("outside_schedule", (string)(await StatsAsync(user, closed))["not_sending_reason"]!);
        await LifecycleAsync(user, closed, "cancel");

        var (_, waiting) = await LaunchOneStepAsync(api, leads: 1, user: user,
            edit: body => body.With("steps_config", new JsonArray(
                new JsonObject { ["channel"] = "email", ["message_template"] = "Hi" },
                new JsonObject { ["channel"] = "email", ["delay_hours"] = 1, ["message_template"] = "Again" })));
        var first = Assert.Single(await LeaseAsync(worker));
        await ReportAsync(worker, first);
        var stats = await StatsAsync(user, waiting);
        Assert.Equal("nothing_due", (string)stats["not_sending_reason"]!);
        Assert.NotNull(stats["next_action_at"]);
    }

    [Fact]
    public async Task The_estimate_is_the_end_of_the_window_of_the_day_the_daily_limit_lets_the_last_action_go()
    {
        await using var api = await StartAsync();
        // A zone where it is about noon now, a window 08:00-20:00 every day: 10 one-step leads at 4 a day go today, tomorrow
        // and the day after, so the last goes out by 20:00 local two days from now.
        var now = api.Clock.GetUtcNow();
        var offset = 12 - now.Hour;
        var zone = offset == 0 ? "UTC" : offset > 0 ? $"Etc/GMT-{offset}" : $"Etc/GMT+{-offset}";
        var localToday = now.ToOffset(TimeSpan.FromHours(offset)).Date;
        var (user, campaignId) = await LaunchOneStepAsync(api, leads: 10, edit: body => body.With("timezone", zone).With("send_days", EveryDay())
            .With("sending_window_start", "08:00").With("sending_window_end", "20:00").With("daily_limit", 4));

        var stats = await StatsAsync(user, campaignId);
        Assert.Null(stats["not_sending_reason"]);
        Assert.Equal(new DateTimeOffset(localToday.AddDays(2).AddHours(20), TimeSpan.FromHours(offset)), stats["estimated_completion_at"].At());
        Assert.Equal(10, (int)stats["actions"]!["waiting"]!);
    }

    [Fact]
    public async Task Another_users_campaign_is_not_found()
    {
        await using var api = await StartAsync();
        var (_, campaignId) = await LaunchOneStepAsync(api, leads: 1);
        var (status, _) = await SendAsync(api.ClientFor(), HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");
        Assert.Equal(404, status);
    }

    private static async Task<(HttpClient User, Guid CampaignId)> LaunchOneStepAsync(DispatchFactory api, int leads, HttpClient? user = null,
        Func<JsonObject, JsonObject>? edit = null)
    {
        var userId = Guid.NewGuid();
        var client = user ?? api.ClientFor(userId);
        if (user is not null)
            userId = await UserIdOfAsync(client);
        var body = Email(await SeedCompleteLeadsAsync(api, userId, leads)).AlwaysOpen(api.Clock).With("alias_ids", Aliases(10))
            .With("steps_config", new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" }));
        return (client, await LaunchAsync(api, client, userId, edit is null ? body : edit(body)));
    }

    /// <summary>The user a client acts as: the owner of a campaign it creates.</summary>
    private static async Task<Guid> UserIdOfAsync(HttpClient client)
    {
        var (_, list) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns?limit=1");
        return Guid.Parse((string)list["items"]![0]!["user_id"]!);
    }

    private static async Task<JsonObject> StatsAsync(HttpClient user, Guid campaignId)
    {
        var (status, stats) = await SendAsync(user, HttpMethod.Get, $"/api/v1/campaigns/{campaignId}/stats");
        Assert.True(status == 200, $"stats answered {status}: {stats.ToJsonString()}");
        return stats;
    }
}
