using System.Text.Json.Nodes;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>What pause, resume, cancel and the end_date do to a campaign in the middle of its sequence.</summary>
public sealed class LifecycleDispatchTests
{
    [Fact]
    public async Task Pause_resume_and_cancel_mid_sequence_keep_every_reported_outcome_and_offer_nothing_twice()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 3);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", Aliases(3))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1);
        var campaignId = await LaunchAsync(api, user, userId, body);
        var stepOne = (await LeaseAsync(worker, leaseSeconds: 30)).ToDictionary(lease => (int)lease["row_number"]!);
        Assert.Equal([1, 2, 3], stepOne.Keys.Order().ToArray());
        Assert.Equal(200, (await ReportAsync(worker, stepOne[1])).Status);

        await LifecycleAsync(user, campaignId, "pause");
        Assert.Empty(await LeaseAsync(worker));
        // An action leased before the pause may still be done and reported; its lead moves on.
        var (status, paused) = await ReportAsync(worker, stepOne[2]);
        Assert.True(status == 200, paused.ToJsonString());
        Assert.Equal("active", (string)paused["lead_status"]!);
        Assert.Equal(2, (await LeadsAsync(api, campaignId))[2].CurrentStep);
        api.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        Assert.Empty(await LeaseAsync(worker));

        // Resumed: row 3's expired lease comes back as the same action; rows 1 and 2 go on to step 2.
        await LifecycleAsync(user, campaignId, "resume");
        var resumed = (await LeaseAsync(worker)).ToDictionary(lease => (int)lease["row_number"]!);
        Assert.Equal([1, 2, 3], resumed.Keys.Order().ToArray());
        Assert.Equal((string)stepOne[3]["action_id"]!, (string)resumed[3]["action_id"]!);
        Assert.Equal(1, (int)resumed[3]["step"]!);
        Assert.Equal(1, (int)resumed[3]["attempt"]!);
        Assert.All(new[] { resumed[1], resumed[2] }, lease => Assert.Equal(2, (int)lease["step"]!));
        Assert.Empty(ActionIds(resumed.Values).Intersect(ActionIds([stepOne[1], stepOne[2]])));

        // Before the cancel: row 1's step 2 given back (waiting), row 2's still out, row 3 moved on to step 2.
        Assert.Equal(200, (await ReleaseAsync(worker, resumed[1], delaySeconds: 600)).Status);
        Assert.Equal(200, (await ReportAsync(worker, resumed[3])).Status);
        await LifecycleAsync(user, campaignId, "cancel");

        var leads = await LeadsAsync(api, campaignId);
        Assert.All(leads.Values, lead => Assert.Equal(("stopped", "cancelled"), (lead.Status, lead.StopReason)));
        var (lostStatus, lost) = await ReportAsync(worker, resumed[1]);
        Assert.True(lostStatus == 409, lost.ToJsonString());
        var (lateStatus, late) = await ReportAsync(worker, resumed[2]);
        Assert.True(lateStatus == 200, late.ToJsonString());
        Assert.Equal("stopped", (string)late["lead_status"]!);
        Assert.Null(late["next_action_at"]);

        api.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Empty(await LeaseAsync(worker));
        Assert.Equal("stopped", (await LeadsAsync(api, campaignId))[2].Status);
        var campaign = await GetAsync(user, campaignId);
        Assert.Equal("cancelled", (string)campaign["status"]!);
        Assert.Equal(3, (int)campaign["total_leads"]!);
        Assert.Equal(3, (int)campaign["processed_leads"]!);
        await using var db = await api.OpenDatabaseAsync();
        var states = (await db.QueryAsync<(Guid ActionId, string State)>(
            "select action_id, state from actions where campaign_id = @campaignId", new { campaignId })).ToDictionary(a => a.ActionId, a => a.State);
        Assert.Equal(5, states.Count);
        Assert.Equal("cancelled", states[Guid.Parse((string)resumed[1]["action_id"]!)]);
        Assert.Equal("closed", states[Guid.Parse((string)resumed[2]["action_id"]!)]);
    }

    [Fact]
    public async Task Past_its_end_date_a_campaign_drains_its_pending_leads_finishes_the_started_and_completes()
    {
        await using var api = await StartAsync();
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var worker = api.WorkerClient();
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 4);
        var body = Email(datasetId).AlwaysOpen(api.Clock).With("alias_ids", Aliases(2))
            .With("steps_config[1].delay_days", 0).With("steps_config[1].delay_hours", 1)
            .With("webhook_config", new JsonObject { ["url"] = "https://hooks.example.com/campaigns" });
        var campaignId = await LaunchAsync(api, user, userId, body);
        // Two aliases: two leads start, the other two wait for a free sender.
        var started = await LeaseAsync(worker);
        Assert.Equal(2, started.Count);
        foreach (var lease in started)
            Assert.Equal(200, (await ReportAsync(worker, lease)).Status);

        await PatchAsync(user, campaignId, new JsonObject { ["end_date"] = api.Clock.GetUtcNow().AddMinutes(1).ToString("O") });
        api.Clock.Advance(TimeSpan.FromMinutes(2));
        // The pending leads' senders are free again, but past the end_date no new lead starts.
        Assert.Empty(await LeaseAsync(worker));
        var draining = await WaitForStatusAsync(user, campaignId, "draining");
        Assert.Equal(2, (int)draining["processed_leads"]!);
        var pendingRows = Enumerable.Range(1, 4).Except(started.Select(lease => (int)lease["row_number"]!)).ToArray();
        var leads = await LeadsAsync(api, campaignId);
        Assert.All(pendingRows, row => Assert.Equal(("stopped", "end_date"), (leads[row].Status, leads[row].StopReason)));

        api.Clock.Advance(TimeSpan.FromHours(1));
        var finishing = await LeaseAsync(worker);
        Assert.Equal(started.Select(lease => (int)lease["row_number"]!).Order(), finishing.Select(lease => (int)lease["row_number"]!).Order());
        Assert.All(finishing, lease => Assert.Equal(2, (int)lease["step"]!));
        foreach (var lease in finishing)
        {
            var (status, answer) = await ReportAsync(worker, lease);
            Assert.True(status == 200, answer.ToJsonString());
            Assert.Equal("completed", (string)answer["lead_status"]!);
        }

        var campaign = await WaitForStatusAsync(user, campaignId, "completed");
        Assert.Equal(4, (int)campaign["total_leads"]!);
        Assert.Equal(4, (int)campaign["processed_leads"]!);
        var events = await EventLinesAsync(user, campaignId);
        Assert.Contains("end_date_reached active->draining", events);
        Assert.Contains("completed draining->completed", events);
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from webhook_deliveries where campaign_id = @campaignId and payload ->> 'type' = 'campaign.completed'", new { campaignId }));
    }
}
