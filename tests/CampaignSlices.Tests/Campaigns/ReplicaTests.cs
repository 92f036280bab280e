using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Several service instances on one database, and instances stopped and started around a trigger (docs/preflight-and-launch.md).</summary>
public sealed class ReplicaTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string?> FastCluster = new()
    {
        ["Scheduling:CheckinInterval"] = "00:00:01",
        ["Scheduling:CheckinMisfireThreshold"] = "00:00:03",
    };

    [Fact]
    public async Task A_trigger_that_came_due_while_no_instance_ran_fires_once_when_one_starts()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        var user = Guid.NewGuid();
        string id;
        DateTimeOffset start;
        await using (var before = await StartAsync(database))
        {
            (id, start) = await ScheduleAsync(before, user, TimeSpan.FromSeconds(3));
        }
        while (DateTimeOffset.UtcNow < start.AddSeconds(1))
            await Task.Delay(200, Ct);

        await using var after = await StartAsync(database);
        await WaitForStatusAsync(after, user, [id], "active");
        await using var db = await after.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from campaign_events where campaign_id = @id and type = 'launch_started'", new { id = Guid.Parse(id) }));
        Assert.Equal(3, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @id", new { id = Guid.Parse(id) }));
    }

    [Fact]
    public async Task Two_instances_launch_each_of_twenty_scheduled_campaigns_exactly_once()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        await using var first = await StartAsync(database);
        await using var second = await StartAsync(database);
        var user = Guid.NewGuid();
        // Far enough ahead that all twenty are created and launched first, even on a loaded machine.
        var startAt = DateTimeOffset.UtcNow.AddSeconds(10);
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
            ids.Add((await ScheduleAsync(i % 2 == 0 ? first : second, user, startAt - DateTimeOffset.UtcNow)).Id);

        await WaitForStatusAsync(first, user, ids, "active");
        await using var db = await first.OpenDatabaseAsync();
        var launches = (await db.QueryAsync<(Guid CampaignId, string Type, long Count)>("""
            select campaign_id, type, count(*) from campaign_events
            where campaign_id = any(@ids) and type in ('launch_started', 'launched')
            group by campaign_id, type
            """, new { ids = ids.Select(Guid.Parse).ToArray() })).ToList();
        Assert.Equal(40, launches.Count);
        Assert.All(launches, launch => Assert.Equal(1, launch.Count));
        Assert.Equal(20 * 3, await db.ExecuteScalarAsync<int>("select count(*) from leads"));
    }

    [Fact]
    public async Task An_instance_killed_during_enrollment_is_recovered_by_another_without_double_enrollment()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        var user = Guid.NewGuid();
        await using var doomed = await ServiceProcess.StartAsync(database, FastCluster);
        using var client = doomed.ClientFor(user);
        var id = await CreateLaunchableAsync(database, client, user);

        // Enrollment blocks on the leads table, so the process is mid-enrollment when it dies.
        await using var blocker = new Npgsql.NpgsqlConnection(database);
        await blocker.OpenAsync(Ct);
        await using var hold = await blocker.BeginTransactionAsync(Ct);
        await blocker.ExecuteAsync("lock table leads in exclusive mode", transaction: hold);
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await WaitForEnrollmentBlockedAsync(database);
        doomed.Kill();
        await hold.RollbackAsync(Ct);

        await using var survivor = await StartAsync(database);
        await WaitForStatusAsync(survivor, user, [id], "active");
        await using var db = await survivor.OpenDatabaseAsync();
        Assert.Equal(3, await db.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @id", new { id = Guid.Parse(id) }));
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from campaign_events where campaign_id = @id and type = 'launched'", new { id = Guid.Parse(id) }));
        Assert.Equal(3, await db.ExecuteScalarAsync<int>("select total_leads from campaigns where campaign_id = @id", new { id = Guid.Parse(id) }));
    }

    [Fact]
    public async Task An_instance_killed_during_a_scheduled_launchs_enrollment_is_recovered_by_another_that_enrolls_it()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        var user = Guid.NewGuid();
        await using var doomed = await ServiceProcess.StartAsync(database, FastCluster);
        using var client = doomed.ClientFor(user);
        var body = Email(await SeedRowsAsync(database, user));
        body["launch_type"] = "scheduled";
        body["start_date"] = DateTimeOffset.UtcNow.AddSeconds(4).ToString("O");

        // The trigger's job gets past the policy (the campaign is launching) and blocks in its enrollment when the process dies.
        await using var blocker = new Npgsql.NpgsqlConnection(database);
        await blocker.OpenAsync(Ct);
        await using var hold = await blocker.BeginTransactionAsync(Ct);
        await blocker.ExecuteAsync("lock table leads in exclusive mode", transaction: hold);
        var id = (string)(await CreateAsync(client, body))["campaign_id"]!;
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await WaitForEnrollmentBlockedAsync(database);
        await using (var db = new Npgsql.NpgsqlConnection(database))
            Assert.Equal("launching", await db.ExecuteScalarAsync<string>("select status from campaigns where campaign_id = @id", new { id = Guid.Parse(id) }));
        doomed.Kill();
        await hold.RollbackAsync(Ct);

        await using var survivor = await StartAsync(database);
        await WaitForStatusAsync(survivor, user, [id], "active");
        await using var check = await survivor.OpenDatabaseAsync();
        Assert.Equal(3, await check.ExecuteScalarAsync<int>("select count(*) from leads where campaign_id = @id", new { id = Guid.Parse(id) }));
        Assert.Equal(["launch_started", "launched"], (await check.QueryAsync<string>("""
            select type from campaign_events where campaign_id = @id and type in ('launch_started', 'launched') order by created_at
            """, new { id = Guid.Parse(id) })).ToArray());
    }

    private static async Task<string> CreateLaunchableAsync(string database, HttpClient client, Guid user) =>
        (string)(await CreateAsync(client, Email(await SeedRowsAsync(database, user))))["campaign_id"]!;

    /// <summary>A dataset of three good rows, written straight to the database.</summary>
    private static async Task<Guid> SeedRowsAsync(string database, Guid user)
    {
        var dataset = Guid.NewGuid();
        await using var db = new Npgsql.NpgsqlConnection(database);
        await db.ExecuteAsync("""
            insert into datasets (dataset_id, user_id, name, row_count, columns)
            values (@dataset, @user, 'leads', 3, '{email,first_name,last_name,company,linkedin_url,phone}');
            insert into dataset_rows (dataset_id, row_number, email, first_name)
            select @dataset, n, 'lead' || n || '@example.com', 'Lead' from generate_series(1, 3) n;
            """, new { dataset, user });
        return dataset;
    }

    /// <summary>
    /// Waits until an enrollment's insert in this test's database waits on a lock (the cluster's other databases belong to
    /// tests running alongside, whose enrollments may be blocked too). Only the statement's start is matched:
    /// pg_stat_activity keeps the first 1 KiB of its text.
    /// </summary>
    private static async Task WaitForEnrollmentBlockedAsync(string database)
    {
        await using var watcher = new Npgsql.NpgsqlConnection(database);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await watcher.ExecuteScalarAsync<int>(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'with source as%'") == 0)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "enrollment never reached the leads insert");
            await Task.Delay(100, Ct);
        }
    }

    private static async Task<ApiFactory> StartAsync(string database)
    {
        var factory = new ApiFactory { ConnectionString = database, ReplicaSettings = FastCluster };
        await factory.InitializeAsync();
        return factory;
    }

    private static async Task<(string Id, DateTimeOffset Start)> ScheduleAsync(ApiFactory api, Guid user, TimeSpan ahead)
    {
        var client = api.ClientFor(user);
        var dataset = await SeedDatasetAsync(api, user);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("""
                insert into dataset_rows (dataset_id, row_number, email, first_name)
                select @dataset, n, 'lead' || n || '@example.com', 'Lead' from generate_series(1, 3) n
                """, new { dataset });
        var start = DateTimeOffset.UtcNow + ahead;
        var body = Email(dataset);
        body["launch_type"] = "scheduled";
        body["start_date"] = start.ToString("O");
        var id = (string)(await CreateAsync(client, body))["campaign_id"]!;
        var (status, launch) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch");
        Assert.True(status == 202, launch.ToJsonString());
        Assert.Equal("scheduled", (string?)launch["campaign"]!["status"]);
        return (id, start);
    }

    private static async Task WaitForStatusAsync(ApiFactory api, Guid user, IReadOnlyList<string> ids, string status)
    {
        var client = api.ClientFor(user);
        foreach (var id in ids)
            await CampaignFixtures.WaitForStatusAsync(client, id, status);
    }
}
