using System.Diagnostics;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>A lease with wait_seconds waits for work: until its wait ends, or until work becomes due (PostgreSQL's NOTIFY wakes it).</summary>
public sealed class LongPollTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_long_poll_with_nothing_due_answers_an_empty_list_when_its_wait_ends()
    {
        var watch = Stopwatch.StartNew();
        var leases = await LeaseAsync(api.WorkerClient(), waitSeconds: 5);
        watch.Stop();

        Assert.Empty(leases);
        // Loose on purpose: it waited (not answered at once), and it did not hang.
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(4.5), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_long_poll_is_woken_by_a_launch_and_answers_with_the_new_campaigns_actions()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 2);
        var campaignId = await CreateIdAsync(user, Email(datasetId).AlwaysOpen(api.Clock));

        var watch = Stopwatch.StartNew();
        var polling = LeaseAsync(api.WorkerClient(), waitSeconds: 10);
        // Let the poll find nothing due and start waiting before the launch.
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.False(polling.IsCompleted);
        var (launched, _) = await SendAsync(user, HttpMethod.Post, $"/api/v1/campaigns/{campaignId}/launch");
        Assert.Equal(202, launched);
        var leases = await polling;
        watch.Stop();

        Assert.Equal(2, leases.Count);
        Assert.All(leases, lease => Assert.Equal(campaignId.ToString(), (string)lease["campaign_id"]!));
        Assert.Equal([1, 2], leases.Select(lease => (int)lease["row_number"]!).Order());
        // Woken, not answered at its deadline: the bound is loose, far above a wake-up's usual delay and below the 10 s wait.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"answered after {watch.Elapsed}");
    }

    [Fact]
    public async Task A_long_poll_wakes_when_a_released_action_comes_due_and_answers_with_it()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock));
        var worker = api.WorkerClient();
        var lease = Assert.Single(await LeaseAsync(worker));
        // Past the sender's min_interval_seconds, so only the release's delay holds the action back.
        api.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(200, (await ReleaseAsync(worker, lease, delaySeconds: 2)).Status);

        var watch = Stopwatch.StartNew();
        var leases = await LeaseAsync(api.WorkerClient("worker-2"), waitSeconds: 10);
        watch.Stop();

        var again = Assert.Single(leases);
        Assert.Equal((string)lease["action_id"]!, (string)again["action_id"]!);
        // Woken at the due time, not at its deadline; loose bounds.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"answered after {watch.Elapsed}");
    }
}
