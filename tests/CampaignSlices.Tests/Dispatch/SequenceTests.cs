using CampaignSlices.Tests.Webhooks;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>A campaign from launch to completed, driven only through the dispatch API as a worker would.</summary>
public sealed class SequenceTests(DispatchFactory api) : IClassFixture<DispatchFactory>
{
    [Fact]
    public async Task An_email_sequence_runs_from_launch_to_completed()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 3);
        var body = Email(datasetId).AlwaysOpen().With("alias_ids", new System.Text.Json.Nodes.JsonArray("a-1", "a-2", "a-3"))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1);
        var campaignId = await LaunchAsync(api, user, userId, body);

        var first = await LeaseAsync(worker);
        Assert.Equal(3, first.Count);
        Assert.All(first, lease => Assert.Equal(1, (int)lease["step"]!));
        Assert.Equal(3, first.Select(lease => (string)lease["sender"]!["alias_id"]!).Distinct().Count());
        foreach (var lease in first)
        {
            var (status, answer) = await ReportAsync(worker, lease);
            Assert.True(status == 200, answer.ToJsonString());
            Assert.Equal("active", (string)answer["lead_status"]!);
        }
        Assert.Empty(await LeaseAsync(worker)); // step 2 waits for its delay

        api.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        var second = await LeaseAsync(worker);
        Assert.Equal(3, second.Count);
        Assert.All(second, lease => Assert.Equal(2, (int)lease["step"]!));
        // Each lead keeps its sender.
        Assert.Equal(first.ToDictionary(l => (int)l["row_number"]!, l => (string)l["sender"]!["alias_id"]!),
            second.ToDictionary(l => (int)l["row_number"]!, l => (string)l["sender"]!["alias_id"]!));
        foreach (var lease in second)
        {
            var (status, answer) = await ReportAsync(worker, lease);
            Assert.True(status == 200, answer.ToJsonString());
            Assert.Equal("completed", (string)answer["lead_status"]!);
        }
        var campaign = await GetAsync(user, campaignId);
        Assert.Equal("completed", (string)campaign["status"]!);
        Assert.Equal(3, (int)campaign["processed_leads"]!);
        Assert.Contains("completed active->completed", await EventLinesAsync(user, campaignId));
    }
}
