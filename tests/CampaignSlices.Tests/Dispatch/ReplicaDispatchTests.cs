using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>Two service instances leasing from one database; each has a clock of its own, moved together.</summary>
public sealed class ReplicaDispatchTests
{
    [Fact]
    public async Task Two_replicas_leasing_at_once_never_lease_one_action_twice_nor_overspend_the_daily_limit()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        await using var first = await StartAsync(database);
        await using var second = await StartAsync(database);
        var userId = Guid.NewGuid();
        var user = first.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(first, userId, 60);
        var body = Email(datasetId).AlwaysOpen(first.Clock).With("alias_ids", Aliases(30)).With("daily_limit", 25);
        var campaignId = await LaunchAsync(first, user, userId, body);

        var leased = await Task.WhenAll(LeaseUntilDryAsync(first.WorkerClient("worker-a")), LeaseUntilDryAsync(second.WorkerClient("worker-b")));
        var all = leased.SelectMany(ids => ids).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(25, all.Count);
        await using var db = await first.OpenDatabaseAsync();
        Assert.Equal(25, await db.ExecuteScalarAsync<int>("select count(*) from actions where campaign_id = @campaignId", new { campaignId }));
    }

    [Fact]
    public async Task An_action_leased_through_a_replica_that_goes_away_is_offered_again_by_the_other_as_the_same_attempt()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        var doomed = await StartAsync(database);
        await using var survivor = await StartAsync(database);
        var userId = Guid.NewGuid();
        var user = survivor.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(survivor, userId, 1);
        var body = Email(datasetId).AlwaysOpen(survivor.Clock).With("alias_ids", Aliases(1));
        await LaunchAsync(survivor, user, userId, body);

        var taken = Assert.Single(await LeaseAsync(doomed.WorkerClient("worker-a"), leaseSeconds: 10));
        await doomed.DisposeAsync();
        var worker = survivor.WorkerClient("worker-b");
        Assert.Empty(await LeaseAsync(worker));
        // Past the lease and the sender's min_interval.
        doomed.Clock.Advance(TimeSpan.FromSeconds(61));
        survivor.Clock.Advance(TimeSpan.FromSeconds(61));
        var again = Assert.Single(await LeaseAsync(worker));
        Assert.Equal((string)taken["action_id"]!, (string)again["action_id"]!);
        Assert.Equal((int)taken["attempt"]!, (int)again["attempt"]!);
        Assert.NotEqual((string)taken["lease_token"]!, (string)again["lease_token"]!);
        var (status, answer) = await ReportAsync(worker, again);
        Assert.True(status == 200, answer.ToJsonString());
        Assert.Equal(409, (await ReportAsync(worker, taken)).Status);
    }

    /// <summary>Leases a few at a time until several answers in a row are empty: what it leased, by action id.</summary>
    private static async Task<List<string>> LeaseUntilDryAsync(HttpClient worker)
    {
        var ids = new List<string>();
        for (var empty = 0; empty < 5;)
        {
            var leases = await LeaseAsync(worker, max: 3);
            ids.AddRange(ActionIds(leases));
            empty = leases.Count == 0 ? empty + 1 : 0;
        }
        return ids;
    }
}
