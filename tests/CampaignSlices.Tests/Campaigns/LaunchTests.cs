using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>POST …/launch (docs/preflight-and-launch.md): through the background enrollment to active, refusals, races and idempotency.</summary>
public sealed class LaunchTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    [Fact]
    public async Task Launch_now_enrolls_every_launchable_row_once_and_ends_active()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [
            Complete(1), new(2, " Two@Example.com ", "Two"), new(3, "lead1@EXAMPLE.com", "Dup"), new(4, "four@example.com"), new(5, FirstName: "Five"),
        ]);
        var campaign = await CreateIdAsync(client, Email(dataset));

        var (status, launch) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");

        Assert.True(status == 202, launch.ToJsonString());
        Assert.Equal("launching", (string?)launch["campaign"]!["status"]);
        Assert.NotNull(launch["campaign"]!["launch_requested_at"]);
        Assert.NotNull(launch["campaign"]!["launch_job_id"]);
        Assert.Null(launch["campaign"]!["launched_at"]);
        Assert.Equal(3, (int)launch["summary"]!["launchable_rows"]!);
        Assert.Equal(["3 duplicate_email", "4 missing_placeholder", "5 missing_email"],
            launch["warnings"]!.AsArray().Select(w => $"{w!["row_number"]} {w["code"]}"));

        var active = await WaitForStatusAsync(client, campaign, "active");
        Assert.Equal(3, (int)active["total_leads"]!);
        Assert.NotNull(active["launched_at"]);
        Assert.Null(active["launch_error"]);
        await using var db = await api.OpenDatabaseAsync();
        var leads = await db.QueryAsync<(int Row, string Email, string Status, int Step)>(
            "select row_number, email, status, current_step from leads where campaign_id = @campaign order by row_number", new { campaign });
        Assert.Equal([(1, "lead1@example.com", "pending", 1), (2, "Two@Example.com", "pending", 1), (4, "four@example.com", "pending", 1)], leads);
        Assert.Equal(["launch_requested draft->launching", "launched launching->active"], await EventLinesAsync(client, campaign));
        var events = await EventsAsync(client, campaign);
        Assert.Equal(["user", "system"], events.Select(e => (string?)e["actor"]));
    }

    [Fact]
    public async Task A_campaign_with_no_launchable_row_answers_422_with_the_summary_and_stays_a_draft()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedLeadsAsync(api, _user, [new(1, FirstName: "Ann"), new(2, "not-an-email", "Bo"), new(3, "bo@localhost", "Bo")]);
        var campaign = await CreateIdAsync(client, Email(dataset));
        var before = await GetAsync(client, campaign);

        var response = await client.PostAsync($"/api/v1/campaigns/{campaign}/launch", null, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(422, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal("""{"total_rows":3,"launchable_rows":0,"warning_count":3,"warnings_by_code":{"invalid_email":2,"missing_email":1}}""",
            problem["summary"]!.ToJsonString());
        Snapshot.Match(text, "nothing-launchable");
        Assert.Equal(before.ToJsonString(), (await GetAsync(client, campaign)).ToJsonString());
        Assert.Empty(await EventsAsync(client, campaign));
    }

    [Fact]
    public async Task An_empty_dataset_cannot_be_launched()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedDatasetAsync(api, _user)));

        var (status, problem) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");

        Assert.Equal(422, status);
        Assert.Equal(0, (int)problem["summary"]!["total_rows"]!);
    }

    [Fact]
    public async Task A_scheduled_launch_whose_start_date_has_passed_answers_422_and_stays_a_draft()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedCompleteLeadsAsync(api, _user, 2))
            .With("launch_type", "scheduled").With("start_date", DateTimeOffset.UtcNow.AddDays(1).ToString("O"));
        var campaign = await CreateIdAsync(client, body);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("update campaigns set start_date = now() - interval '1 minute' where campaign_id = @campaign", new { campaign });

        var (status, problem) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");

        Assert.True(status == 422, problem.ToJsonString());
        Assert.Contains("start_date", (string?)problem["detail"]);
        Assert.Equal("draft", (string?)(await GetAsync(client, campaign))["status"]);
        Assert.Empty(await EventsAsync(client, campaign));
    }

    [Fact]
    public async Task Of_ten_concurrent_launches_exactly_one_wins_and_the_others_get_409()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 20)));

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
            (await SendAsync(api.ClientFor(_user), HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch")).Status)));

        Assert.Equal(1, statuses.Count(s => s == 202));
        Assert.Equal(9, statuses.Count(s => s == 409));
        var active = await WaitForStatusAsync(client, campaign, "active");
        Assert.Equal(20, (int)active["total_leads"]!);
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(20, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @campaign", new { campaign }));
        Assert.Equal(["launch_requested draft->launching", "launched launching->active"], await EventLinesAsync(client, campaign));
    }

    [Fact]
    public async Task Enrollment_run_again_and_at_once_enrolls_each_row_once()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 7)));
        // Launching with no job behind it: only the direct runs below enroll.
        await SetStatusAsync(api, campaign, "launching");
        var enrollment = api.Services.GetRequiredService<LaunchCampaign.Enrollment>();

        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => enrollment.EnrollAsync(campaign, TestContext.Current.CancellationToken))));
        await enrollment.EnrollAsync(campaign, TestContext.Current.CancellationToken);

        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(7, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @campaign", new { campaign }));
        Assert.Equal(["launched launching->active"], await EventLinesAsync(client, campaign));

        // The insert is idempotent by itself too: forced back to launching with its leads in place, a run adds none.
        await SetStatusAsync(api, campaign, "launching");
        await enrollment.EnrollAsync(campaign, TestContext.Current.CancellationToken);
        Assert.Equal(7, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @campaign", new { campaign }));
        var active = await GetAsync(client, campaign);
        Assert.Equal("active", (string?)active["status"]);
        Assert.Equal(7, (int)active["total_leads"]!);
    }

    [Fact]
    public async Task The_same_idempotency_key_replays_the_first_launch_without_launching_again()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 2)));

        var first = await LaunchWithKeyAsync(client, campaign, "launch-once");
        await WaitForStatusAsync(client, campaign, "active");
        var second = await LaunchWithKeyAsync(client, campaign, "launch-once");
        var third = await LaunchWithKeyAsync(client, campaign, "another-key");

        Assert.Equal(202, first.Status);
        Assert.Equal((first.Status, first.Body), (second.Status, second.Body));
        Assert.Equal(409, third.Status);
        Assert.Equal(["launch_requested draft->launching", "launched launching->active"], await EventLinesAsync(client, campaign));
    }

    [Fact]
    public async Task Another_users_campaign_answers_404_and_is_not_launched()
    {
        var campaign = await CreateIdAsync(api.ClientFor(_user), Email(await SeedCompleteLeadsAsync(api, _user, 1)));

        var (status, _) = await SendAsync(api.ClientFor(), HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");

        Assert.Equal(404, status);
        Assert.Equal("draft", (string?)(await GetAsync(api.ClientFor(_user), campaign))["status"]);
    }

    [Fact]
    public async Task A_stale_if_match_answers_412_and_a_fresh_one_launches()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, _user, 1)));
        var etag = (await client.GetAsync($"/api/v1/campaigns/{campaign}", TestContext.Current.CancellationToken)).Headers.ETag!;
        await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{campaign}", new JsonObject { ["name"] = "Renamed" });

        Assert.Equal(412, (await LaunchIfMatchAsync(client, campaign, etag.Tag)).Status);
        var fresh = (await client.GetAsync($"/api/v1/campaigns/{campaign}", TestContext.Current.CancellationToken)).Headers.ETag!;
        Assert.Equal(202, (await LaunchIfMatchAsync(client, campaign, fresh.Tag)).Status);
    }

    private static async Task<(int Status, string Body)> LaunchWithKeyAsync(HttpClient client, Guid campaign, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");
        request.Headers.Add("Idempotency-Key", key);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static async Task<(int Status, string Body)> LaunchIfMatchAsync(HttpClient client, Guid campaign, string etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");
        request.Headers.TryAddWithoutValidation("If-Match", etag);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}

/// <summary>The enrollment job failing every time: retried as configured, then the campaign is failed with its reason.</summary>
public sealed class LaunchFailureTests(LaunchFailureTests.FastRetries api) : IClassFixture<LaunchFailureTests.FastRetries>
{
    /// <summary>Two retries a fraction of a second apart, so the failure path runs to its end within the test.</summary>
    public sealed class FastRetries : ApiFactory
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Scheduling:Retries"] = "2",
            ["Scheduling:RetryDelay"] = "00:00:00.200",
        };
    }

    [Fact]
    public async Task Enrollment_that_keeps_failing_is_retried_then_the_campaign_is_failed_with_an_event()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var campaign = await CreateIdAsync(client, Email(await SeedCompleteLeadsAsync(api, user, 3)));
        await using var db = await api.OpenDatabaseAsync();
        // Every insert into leads fails; the sequence (outside the rolled-back transactions) counts the attempts.
        await db.ExecuteAsync("""
            create sequence enrollment_attempts;
            create function refuse_leads() returns trigger language plpgsql as $$
            begin
                perform nextval('enrollment_attempts');
                raise exception 'leads are refused in this test';
            end $$;
            create trigger refuse_leads before insert on leads for each statement execute function refuse_leads();
            """);

        var (status, launch) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch");
        Assert.True(status == 202, launch.ToJsonString());

        var failed = await WaitForStatusAsync(client, campaign, "failed");
        Assert.StartsWith("Enrollment failed after 3 attempts", (string?)failed["launch_error"]);
        Assert.DoesNotContain("refused", (string?)failed["launch_error"]);
        Assert.Null(failed["launched_at"]);
        Assert.Equal(0, (int)failed["total_leads"]!);
        Assert.Equal(3, await db.ExecuteScalarAsync<int>("select last_value from enrollment_attempts"));
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @campaign", new { campaign }));
        Assert.Equal(["launch_requested draft->launching", "launch_failed launching->failed"], await EventLinesAsync(client, campaign));
        var failure = (await EventsAsync(client, campaign))[1];
        Assert.Equal("system", (string?)failure["actor"]);
        Assert.Equal((string?)failed["launch_error"], (string?)failure["reason"]);
        // Failed is final: nothing relaunches it.
        Assert.Equal(409, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{campaign}/launch")).Status);
    }
}
