using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.ScheduledFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// Scheduled launches on real Quartz triggers (docs/preflight-and-launch.md): a trigger fires at start_date, follows
/// a moved start_date, and is removed by pause and cancel and made again by resume.
/// </summary>
public sealed class ScheduledLaunchTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_trigger_fires_at_start_date_and_the_campaign_launches()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(Soon);

        var id = await ScheduleAsync(api, client, user, start);

        var trigger = await TriggerAsync(api, id);
        Assert.NotNull(trigger);
        Assert.Equal(start, trigger.NextFireTime);
        var campaign = await WaitForStatusAsync(client, id, "active");
        Assert.Equal(3, (int)campaign["total_leads"]!);
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "launch_started", "launched"], EventTypes(events));
        var started = events[1];
        Assert.Equal(("scheduled", "launching", "system"), ((string?)started["from_status"], (string?)started["to_status"], (string?)started["actor"]));
        Assert.True(DateTimeOffset.Parse((string)started["created_at"]!) >= start, $"fired at {started["created_at"]}, before {start:O}");
        // A one-shot trigger is gone once fired.
        await WaitForNoTriggerAsync(api, id);
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task A_scheduled_launch_enrolls_in_its_own_trigger_firing_and_makes_no_enrollment_job()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(TimeSpan.FromSeconds(5));
        var id = await ScheduleAsync(api, client, user, start);

        // Enrollment blocks on the leads table, so what the scheduler holds mid-enrollment can be looked at.
        await using var blocker = await api.OpenDatabaseAsync();
        await using var hold = await blocker.BeginTransactionAsync(Ct);
        await blocker.ExecuteAsync("lock table leads in exclusive mode", transaction: hold);
        Assert.True(DateTimeOffset.UtcNow < start, "the trigger was due before the leads were locked; the machine is too slow for this test");
        await WaitForEnrollmentBlockedAsync();

        var (_, launching) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}");
        Assert.Equal(("launching", $"scheduled-launch.launch-{id}"), ((string?)launching["status"], (string?)launching["launch_job_id"]));
        Assert.Equal([("scheduled-launch", $"launch-{id}", "scheduled-launch", $"launch-{id}")], await FiredTriggersAsync(id));
        Assert.False(await EnrollmentJobStoredAsync(id));
        await hold.RollbackAsync(Ct);

        var campaign = await WaitForStatusAsync(client, id, "active");
        Assert.Equal($"scheduled-launch.launch-{id}", (string?)campaign["launch_job_id"]);
        Assert.Equal(["scheduled", "launch_started", "launched"], EventTypes(await EventsAsync(client, id)));
        await WaitForNoTriggerAsync(api, id);
        Assert.Empty(await FiredTriggersAsync(id));
        Assert.False(await EnrollmentJobStoredAsync(id));
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task Patching_start_date_while_scheduled_moves_the_trigger_and_it_fires_at_the_new_time()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var oldStart = StartIn(Soon);
        var id = await ScheduleAsync(api, client, user, oldStart);
        var newStart = oldStart.AddSeconds(3);

        var (status, patched) = await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{id}",
            new JsonObject { ["start_date"] = newStart.ToOffset(TimeSpan.FromHours(2)).ToString("O") });

        Assert.True(status == 200, patched.ToJsonString());
        Assert.Equal("scheduled", (string?)patched["status"]);
        Assert.Equal(newStart, (await TriggerAsync(api, id))?.NextFireTime);
        await WaitPastAsync(oldStart.AddSeconds(1));
        Assert.Equal("scheduled", (string?)(await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}")).Body["status"]);
        await WaitForStatusAsync(client, id, "active");
        var started = Assert.Single(await EventsAsync(client, id), e => (string?)e["type"] == "launch_started");
        Assert.True(DateTimeOffset.Parse((string)started["created_at"]!) >= newStart, $"fired at {started["created_at"]}, before {newStart:O}");
    }

    [Fact]
    public async Task A_trigger_that_fires_while_start_date_is_moved_later_does_not_launch_early()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(TimeSpan.FromSeconds(5));
        var id = await ScheduleAsync(api, client, user, start);
        var later = StartIn(TimeSpan.FromHours(1));

        // The campaign row held: the PATCH queues for it before start_date, the fired trigger behind the PATCH.
        await using var blocker = await api.OpenDatabaseAsync();
        await using var hold = await blocker.BeginTransactionAsync(Ct);
        await blocker.ExecuteAsync("select 1 from campaigns where campaign_id = @id for update", new { id = Guid.Parse(id) }, hold);
        var patch = SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{id}", new JsonObject { ["start_date"] = later.ToString("O") });
        await WaitForBlockedAsync(1);
        Assert.True(DateTimeOffset.UtcNow < start, "the PATCH was not queued before start_date; the machine is too slow for this test");
        await WaitForBlockedAsync(2);
        await hold.RollbackAsync(Ct);

        var (status, patched) = await patch;
        Assert.True(status == 200, patched.ToJsonString());
        await WaitForFiredTriggerDoneAsync(id);
        Assert.Equal("scheduled", (string?)(await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}")).Body["status"]);
        Assert.Equal(["scheduled", "updated"], EventTypes(await EventsAsync(client, id)));
        Assert.Equal(later, (await TriggerAsync(api, id))?.NextFireTime);
    }

    [Fact]
    public async Task A_start_date_in_the_past_is_refused_while_scheduled_and_the_trigger_stays()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(TimeSpan.FromHours(1));
        var id = await ScheduleAsync(api, client, user, start);

        var (status, problem) = await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{id}",
            new JsonObject { ["start_date"] = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O") });

        Assert.Equal(400, status);
        Assert.Equal(["start_date"], ErrorKeys(problem));
        Assert.Equal(start, (await TriggerAsync(api, id))?.NextFireTime);
    }

    [Fact]
    public async Task Pausing_a_scheduled_campaign_removes_its_trigger_and_it_does_not_fire()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(Soon);
        var paused = await ScheduleAsync(api, client, user, start);
        // Fires after the paused one would have: once it is active, that time has passed.
        var control = await ScheduleAsync(api, client, user, start.AddSeconds(1));

        var (status, campaign) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{paused}/pause");

        Assert.Equal(200, status);
        Assert.Equal(("paused", "user_requested"), ((string?)campaign["status"], (string?)campaign["paused_reason"]));
        Assert.Null(await TriggerAsync(api, paused));
        Assert.False(await LaunchJobExistsAsync(api, paused));
        Assert.Null(campaign["launch_job_id"]);
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{paused}/pause")).Status);
        await WaitForStatusAsync(client, control, "active");
        Assert.Equal("paused", (string?)(await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{paused}")).Body["status"]);
        Assert.Equal(["scheduled", "paused"], EventTypes(await EventsAsync(client, paused)));
        Assert.Equal(0, await LeadCountAsync(api, paused));
    }

    [Fact]
    public async Task Resuming_before_start_date_makes_the_trigger_again_and_it_fires()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(TimeSpan.FromSeconds(3));
        var id = await ScheduleAsync(api, client, user, start);
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/pause")).Status);
        Assert.Null(await TriggerAsync(api, id));

        var (status, campaign) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/resume");

        Assert.Equal(200, status);
        Assert.Equal("scheduled", (string?)campaign["status"]);
        Assert.Null(campaign["paused_reason"]);
        Assert.Equal($"scheduled-launch.launch-{id}", (string?)campaign["launch_job_id"]);
        Assert.Equal(start, (await TriggerAsync(api, id))?.NextFireTime);
        // Asked again: answered as done, nothing changes.
        var (again, scheduled) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/resume");
        Assert.Equal((200, "scheduled"), (again, (string?)scheduled["status"]));
        await WaitForStatusAsync(client, id, "active");
        Assert.Equal(["scheduled", "paused", "resumed", "launch_started", "launched"], EventTypes(await EventsAsync(client, id)));
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task Resuming_after_start_date_passed_launches_at_once()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var start = StartIn(Soon);
        var id = await ScheduleAsync(api, client, user, start);
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/pause")).Status);
        await WaitPastAsync(start);

        var (status, campaign) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/resume");

        Assert.Equal(200, status);
        Assert.Equal("launching", (string?)campaign["status"]);
        Assert.NotNull(campaign["launch_job_id"]);
        Assert.Null(await TriggerAsync(api, id));
        await WaitForStatusAsync(client, id, "active");
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "paused", "resumed", "launched"], EventTypes(events));
        Assert.Equal(("paused", "launching"), ((string?)events[2]["from_status"], (string?)events[2]["to_status"]));
        Assert.Equal(3, await LeadCountAsync(api, id));
    }

    [Fact]
    public async Task Cancelling_a_scheduled_campaign_removes_its_trigger()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var id = await ScheduleAsync(api, client, user, StartIn(TimeSpan.FromHours(1)));
        Assert.NotNull(await TriggerAsync(api, id));

        var (status, campaign) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/cancel");

        Assert.Equal(200, status);
        Assert.Equal("cancelled", (string?)campaign["status"]);
        Assert.Null(await TriggerAsync(api, id));
        Assert.False(await LaunchJobExistsAsync(api, id));
        Assert.Null(campaign["launch_job_id"]);
        Assert.Equal(["scheduled", "cancelled"], EventTypes(await EventsAsync(client, id)));
    }

    [Fact]
    public async Task Cancelling_a_paused_scheduled_campaign_leaves_no_trigger_for_a_later_resume()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var id = await ScheduleAsync(api, client, user, StartIn(TimeSpan.FromHours(1)));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/pause")).Status);

        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/cancel")).Status);

        Assert.Equal(409, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/resume")).Status);
        Assert.Null(await TriggerAsync(api, id));
        Assert.False(await LaunchJobExistsAsync(api, id));
    }

    /// <summary>Waits until <paramref name="count"/> of the app's statements wait on a row lock (Quartz's own locks aside).</summary>
    private async Task WaitForBlockedAsync(int count)
    {
        await using var db = await api.OpenDatabaseAsync();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await db.ExecuteScalarAsync<int>("""
            select count(*) from pg_stat_activity
            where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0 and query not ilike '%qrtz%'
            """) < count)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"fewer than {count} statements ever waited on the campaign row");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>
    /// Waits until an enrollment's insert in this class's database waits on a lock (other tests' databases share the cluster);
    /// only the statement's start is matched (pg_stat_activity keeps 1 KiB).
    /// </summary>
    private async Task WaitForEnrollmentBlockedAsync()
    {
        await using var db = await api.OpenDatabaseAsync();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await db.ExecuteScalarAsync<int>(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'with source as%'") == 0)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "enrollment never reached the leads insert");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>The scheduler's firings in progress for the campaign, any job: trigger group and name, job group and name.</summary>
    private async Task<List<(string, string, string, string)>> FiredTriggersAsync(string id)
    {
        await using var db = await api.OpenDatabaseAsync();
        return (await db.QueryAsync<(string, string, string, string)>("""
            select trigger_group, trigger_name, job_group, job_name from quartz.qrtz_fired_triggers
            where trigger_name like '%' || @id or job_name like '%' || @id
            """, new { id })).ToList();
    }

    /// <summary>Whether an enrollment job or trigger of the campaign is stored.</summary>
    private async Task<bool> EnrollmentJobStoredAsync(string id)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<bool>("""
            select exists(select from quartz.qrtz_job_details where job_group = 'enrollment' and job_name = @name)
                or exists(select from quartz.qrtz_triggers where job_group = 'enrollment' and job_name = @name)
            """, new { name = $"enroll-{id}" });
    }

    /// <summary>Waits until the fired launch trigger of the campaign has finished running its job.</summary>
    private async Task WaitForFiredTriggerDoneAsync(string id)
    {
        await using var db = await api.OpenDatabaseAsync();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await db.ExecuteScalarAsync<int>(
            "select count(*) from quartz.qrtz_fired_triggers where trigger_group = 'scheduled-launch' and trigger_name = @name",
            new { name = $"launch-{id}" }) > 0)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the fired trigger's job never finished");
            await Task.Delay(50, Ct);
        }
    }
}

/// <summary>A scheduled launch whose enrollment keeps failing: its own trigger's job is retried as configured, then the campaign is failed.</summary>
public sealed class FailingScheduledLaunchTests(LaunchFailureTests.FastRetries api) : IClassFixture<LaunchFailureTests.FastRetries>
{
    [Fact]
    public async Task Enrollment_that_keeps_failing_is_retried_by_the_trigger_then_the_campaign_is_failed()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
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
        // Far enough ahead for the first requests to a fresh service, on a loaded machine.
        var id = await ScheduleAsync(api, client, user, StartIn(TimeSpan.FromSeconds(10)));

        var failed = await WaitForStatusAsync(client, id, "failed");

        Assert.StartsWith("Enrollment failed after 3 attempts", (string?)failed["launch_error"]);
        Assert.DoesNotContain("refused", (string?)failed["launch_error"]);
        Assert.Null(failed["launched_at"]);
        Assert.Equal($"scheduled-launch.launch-{id}", (string?)failed["launch_job_id"]);
        Assert.Equal(3, await db.ExecuteScalarAsync<int>("select last_value from enrollment_attempts"));
        Assert.Equal(0, await LeadCountAsync(api, id));
        // The policy ran once; the retries found the campaign launching by this trigger and enrolled again.
        var events = await EventsAsync(client, id);
        Assert.Equal(["scheduled", "launch_started", "launch_failed"], EventTypes(events));
        Assert.Equal((string?)failed["launch_error"], (string?)events[2]["reason"]);
        await WaitForNoTriggerAsync(api, id);
        Assert.Equal(0, await db.ExecuteScalarAsync<int>(
            "select count(*) from quartz.qrtz_job_details where job_name = @name", new { name = $"enroll-{id}" }));
    }
}
