using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Campaigns.ScheduledFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>The enrollment takes the launch check's verdicts instead of applying the rules again, where they cannot change.</summary>
public sealed class LaunchCheckReuseTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_scheduled_launch_enrolls_by_the_verdicts_its_check_kept_and_then_drops_them()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        // A LinkedIn campaign that does not skip other campaigns: none of its rules looks beyond its own dataset.
        var body = Linkedin(await SeedCompleteLeadsAsync(api, user, 3))
            .With("launch_type", "scheduled").With("start_date", StartIn(TimeSpan.FromSeconds(3)).ToString("O"));
        var id = (string)(await CreateAsync(client, body))["campaign_id"]!;
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await using var db = await api.OpenDatabaseAsync();
        var kept = await db.QuerySingleAsync<int[]>("select blocked_rows from launch_checks where campaign_id = @id::uuid", new { id });
        Assert.Empty(kept);

        // Were the rules applied again, row 2 (a good row) would be enrolled; the kept verdict is what counts.
        await db.ExecuteAsync("update launch_checks set blocked_rows = '{2}' where campaign_id = @id::uuid", new { id });
        var campaign = await WaitForStatusAsync(client, id, "active");

        Assert.Equal(2, (int)campaign["total_leads"]!);
        var enrolled = await db.QueryAsync<int>("select row_number from leads where campaign_id = @id::uuid order by row_number", new { id });
        Assert.Equal([1, 3], enrolled);
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("select count(*) from launch_checks where campaign_id = @id::uuid", new { id }));
    }

    [Fact]
    public async Task An_email_unsubscribed_between_the_check_and_the_enrollment_is_not_enrolled_though_the_verdicts_are_reused()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var id = await ScheduleAsync(api, client, user, StartIn(TimeSpan.FromSeconds(3)));
        await using var db = await api.OpenDatabaseAsync();
        Assert.Empty(await db.QuerySingleAsync<int[]>("select blocked_rows from launch_checks where campaign_id = @id::uuid", new { id }));

        // Row 2's email unsubscribed from another of the user's campaigns after the launch's check.
        await db.ExecuteAsync("""
            insert into unsubscribes (user_id, email, campaign_id, row_number, unsubscribed_at)
            select @user, lower(btrim(r.email)), c.campaign_id, r.row_number, now()
            from dataset_rows r join campaigns c on c.dataset_id = r.dataset_id
            where c.campaign_id = @id::uuid and r.row_number = 2
            """, new { user, id });
        var campaign = await WaitForStatusAsync(client, id, "active");

        Assert.Equal(2, (int)campaign["total_leads"]!);
        Assert.Equal([1, 3], await db.QueryAsync<int>("select row_number from leads where campaign_id = @id::uuid order by row_number", new { id }));
    }

    [Fact]
    public async Task A_linkedin_campaign_that_skips_other_campaigns_keeps_no_verdicts_since_they_can_change()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var body = Linkedin(await SeedCompleteLeadsAsync(api, user, 2)).With("skip_other_campaigns", true);
        var id = await CreateIdAsync(client, body);
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await WaitForStatusAsync(client, id, "active");
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("select count(*) from launch_checks where campaign_id = @id", new { id }));
        Assert.Equal(2, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @id", new { id }));
    }
}
