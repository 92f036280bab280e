using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// Email actions through the dispatcher: worker loops that lease 100 due actions and report 100 `sent`
/// outcomes, until every lead of the launched campaigns is completed; beside them, on the same server,
/// bare SQL loops doing the same claim (SKIP LOCKED in a materialized CTE, UPDATE … FROM) and the same
/// completion over a copy of the same leads. One service replica with one loop against one bare loop,
/// then two replicas with a loop each against two bare loops. Between them, as a yardstick and not the
/// reference, the contract's floor: plain SQL loops doing only the writes the contract requires.
/// </summary>
public static class DispatchThroughputBenchmark
{
    private const int Batch = 100;
    private const int Aliases = 50;

    // The bare queue: the service's own leads, copied into a table of the same shape (its indexes too).
    private const string BareTable = """
        create table bare_leads (like leads including all);
        insert into bare_leads select * from leads;
        """;

    private const string BareClaimSql = """
        with picked as materialized (
            select campaign_id, row_number
            from bare_leads
            where channel = 'email' and status in ('pending', 'active') and next_action_at <= now()
            order by next_action_at
            limit @batch
            for update skip locked
        )
        update bare_leads l
        set status = 'active', next_action_at = now() + interval '300 seconds', updated_at = now()
        from picked p
        where l.campaign_id = p.campaign_id and l.row_number = p.row_number
        returning l.campaign_id, l.row_number
        """;

    private const string BareCompleteSql = """
        update bare_leads l
        set status = 'completed', next_action_at = null, last_outcome = 'sent', updated_at = now()
        from unnest(@campaigns::uuid[], @rows::int[]) as x (campaign_id, row_number)
        where l.campaign_id = x.campaign_id and l.row_number = x.row_number
        """;

    // The contract's floor: the writes the dispatch contract (docs/dispatch.md) requires of any dispatcher, in the fewest
    // statements plain SQL can do them in, over copies of the service's own tables (their indexes and fillfactors too). Not
    // the goal's reference (that is the bare loop): it shows how much of the gap is the contract's work and how much the service's. Per claim: the due leads with
    // their dataset rows and campaign (SKIP LOCKED), the campaigns' daily counters (held with SKIP LOCKED, checked, added
    // to), one sender row per lead (min_interval checked, stamped), one action row per lead with its lease token (unique per
    // lead, step and attempt), the leads leased. Per completion: the actions closed where their token still holds them, the
    // leads moved out of play, the campaigns' processed counters and completion. It skips what is the service's own choice
    // to spend: the sender is the lead's row number modulo the aliases (not the free one holding fewest leads), no schedule
    // window, variants, plan cache or JSON.
    private const string FloorTables = """
        create table floor_leads (like leads including all);
        insert into floor_leads select * from leads;
        create table floor_actions (like actions including all) with (fillfactor = 60);
        create table floor_senders (like campaign_senders including all) with (fillfactor = 50);
        insert into floor_senders select * from campaign_senders;
        create table floor_pacing (like campaign_pacing including all) with (fillfactor = 50);
        insert into floor_pacing select * from campaign_pacing;
        create table floor_progress (campaign_id uuid primary key, status text not null, processed_leads int not null, in_play int not null)
            with (fillfactor = 50);
        insert into floor_progress select campaign_id, status, 0, total_leads from campaigns;
        """;

    private const string FloorClaimSql = """
        with picked as materialized (
            select l.campaign_id, l.row_number, l.current_step, l.attempt, l.email, l.timezone, r.first_name, r.last_name, r.company,
                   r.attributes::text as attributes
            from floor_leads l
            join campaigns c on c.campaign_id = l.campaign_id
            join dataset_rows r on r.dataset_id = c.dataset_id and r.row_number = l.row_number
            where l.channel = 'email' and l.status in ('pending', 'active') and l.next_action_at <= now() and c.status = 'active'
            order by l.next_action_at
            limit @batch
            for update of l skip locked
        ),
        numbered as (select picked.*, row_number() over () as n from picked),
        held as (
            select p.campaign_id, p.leased_on_day, n.leads
            from floor_pacing p
            join (select campaign_id, count(*)::int as leads from picked group by campaign_id) n on n.campaign_id = p.campaign_id
            for update of p skip locked
        ),
        counted as (
            update floor_pacing p
            set leased_on_day = p.leased_on_day + h.leads
            from held h
            where p.campaign_id = h.campaign_id and h.leased_on_day + h.leads <= @dailyLimit
            returning p.campaign_id
        ),
        paced as (
            update floor_senders s
            set last_leased_at = now(), leased_on_day = s.leased_on_day + 1, leads = s.leads + 1
            from numbered p
            where p.campaign_id in (select campaign_id from counted)
              and s.campaign_id = p.campaign_id and s.sender_id = 'alias-' || (1 + p.row_number % @aliases)
              and (s.last_leased_at is null or s.last_leased_at <= now() - interval '60 seconds')
            returning p.n, s.sender_id
        ),
        created as (
            insert into floor_actions (action_id, campaign_id, row_number, step, attempt, channel, sender_id, state, lease_token,
                                       lease_expires_at, worker, leased_at)
            select x.id, p.campaign_id, p.row_number, p.current_step, p.attempt, 'email', s.sender_id, 'leased', x.token,
                   now() + interval '300 seconds', 'floor', now()
            from paced s
            join numbered p on p.n = s.n
            join unnest(@ids::uuid[], @tokens::uuid[]) with ordinality as x (id, token, n) on x.n = s.n
            returning action_id, lease_token, campaign_id, row_number, sender_id
        ),
        leased as (
            update floor_leads l
            set status = 'active', next_action_at = now() + interval '300 seconds', open_action_id = a.action_id, sender_id = a.sender_id,
                updated_at = now()
            from created a
            where l.campaign_id = a.campaign_id and l.row_number = a.row_number
            returning a.action_id, a.lease_token, l.campaign_id, l.row_number
        )
        select x.action_id, x.lease_token, p.email, p.first_name, p.last_name, p.company, p.timezone, p.attributes
        from leased x
        join picked p on p.campaign_id = x.campaign_id and p.row_number = x.row_number
        """;

    private const string FloorCompleteSql = """
        with closed as (
            update floor_actions a
            set state = 'closed', lease_token = null, outcome = 'sent', occurred_at = now(), reported_at = now(), closing_token = x.token,
                answered_lead_status = 'completed'
            from unnest(@ids::uuid[], @tokens::uuid[]) as x (id, token)
            where a.action_id = x.id and a.state = 'leased' and a.lease_token = x.token
            returning a.action_id, a.campaign_id, a.row_number
        ),
        moved as (
            update floor_leads l
            set status = 'completed', next_action_at = null, open_action_id = null, last_outcome = 'sent', updated_at = now()
            from closed c
            where l.campaign_id = c.campaign_id and l.row_number = c.row_number and l.open_action_id = c.action_id
            returning l.campaign_id
        ),
        held as (
            select p.campaign_id, m.leads
            from floor_progress p
            join (select campaign_id, count(*)::int as leads from moved group by campaign_id) m on m.campaign_id = p.campaign_id
            order by p.campaign_id
            for update of p
        )
        update floor_progress p
        set processed_leads = p.processed_leads + h.leads, in_play = p.in_play - h.leads,
            status = case when p.in_play = h.leads then 'completed' else p.status end
        from held h
        where p.campaign_id = h.campaign_id
        """;

    public static async Task RunAsync(string[] args)
    {
        var campaigns = Option(args, "--campaigns", 2000);
        var leadsPerCampaign = Option(args, "--leads", 50);
        var warmUpCampaigns = Option(args, "--warm-up", Math.Max(100, campaigns / 10));
        var replicaCounts = OptionText(args, "--replicas", "1,2").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var total = campaigns * leadsPerCampaign;
        var lines = new List<string>();
        foreach (var replicas in replicaCounts)
        {
            await using var environment = await BenchEnvironment.StartAsync();
            var services = new List<ServiceUnderTest>();
            try
            {
                for (var i = 0; i < replicas; i++)
                    services.Add(await ServiceUnderTest.StartAsync(environment.ConnectionString));
                // The warm-up campaigns are launched first, so their leads are due first and go before the measured ones.
                var setUp = await Measure.TimeAsync(() => SetUpAsync(environment, services, [warmUpCampaigns, campaigns], leadsPerCampaign));
                var warmUp = warmUpCampaigns * leadsPerCampaign;
                Console.WriteLine($"{replicas} replica(s): {warmUpCampaigns:N0} + {campaigns:N0} campaigns x {leadsPerCampaign} leads active, " +
                                  $"{warmUp:N0} + {total:N0} due ({setUp.TotalSeconds:F0} s to set up)");

                await using var db = await environment.OpenAsync();
                await db.ExecuteAsync(BareTable + FloorTables, commandTimeout: 0);
                await db.ExecuteAsync("vacuum analyze leads, bare_leads, floor_leads, actions, campaign_senders, floor_senders, campaign_pacing, floor_pacing, " +
                                      "floor_progress, campaigns, dataset_rows;", commandTimeout: 0);
                await db.ExecuteAsync("checkpoint;", commandTimeout: 0);

                // After each side's warm-up, the tables it wrote are analyzed: the action tables started empty, and a plan cached while
                // they held a few rows (a sequential scan) would otherwise be kept as they grow, where autovacuum would have re-analyzed.
                var bareWarmUp = await RunLoopsAsync(environment, services, false, replicas, warmUp, loop => BareLoopAsync(environment.ConnectionString, loop));
                await db.ExecuteAsync("analyze bare_leads;", commandTimeout: 0);
                var bare = await RunLoopsAsync(environment, services, false, replicas, total + warmUp - bareWarmUp.Actions,
                    loop => BareLoopAsync(environment.ConnectionString, loop));
                await db.ExecuteAsync("checkpoint;", commandTimeout: 0);
                var floorWarmUp = await RunLoopsAsync(environment, services, false, replicas, warmUp, loop => FloorLoopAsync(environment.ConnectionString, loop));
                await db.ExecuteAsync("analyze floor_leads, floor_actions, floor_senders, floor_pacing, floor_progress;", commandTimeout: 0);
                var floor = await RunLoopsAsync(environment, services, false, replicas, total + warmUp - floorWarmUp.Actions,
                    loop => FloorLoopAsync(environment.ConnectionString, loop));
                await db.ExecuteAsync("checkpoint;", commandTimeout: 0);
                var serviceWarmUp = await RunLoopsAsync(environment, services, true, replicas, warmUp, loop => WorkerLoopAsync(services[loop], loop));
                await db.ExecuteAsync("analyze leads, actions, campaign_senders, campaign_pacing, campaigns;", commandTimeout: 0);
                var service = await RunLoopsAsync(environment, services, true, replicas, total + warmUp - serviceWarmUp.Actions,
                    loop => WorkerLoopAsync(services[loop], loop));

                var bareCompleted = await db.ExecuteScalarAsync<long>("select count(*) from bare_leads where status = 'completed'");
                var leadsCompleted = await db.ExecuteScalarAsync<long>("select count(*) from leads where status = 'completed'");
                var campaignsCompleted = await db.ExecuteScalarAsync<long>("select count(*) from campaigns where status = 'completed'");
                var floorCompleted = await db.ExecuteScalarAsync<long>("select count(*) from floor_leads where status = 'completed'");
                if (bareCompleted != total + warmUp || floorCompleted != total + warmUp || leadsCompleted != total + warmUp)
                    throw new InvalidOperationException(
                        $"completed: bare {bareCompleted:N0}, floor {floorCompleted:N0}, service {leadsCompleted:N0}, of {total + warmUp:N0}");

                lines.Add($"dispatch-throughput: {total:N0} actions ({campaigns:N0} campaigns x {leadsPerCampaign} leads, {Aliases} aliases each), batches of {Batch}, " +
                          $"{replicas} replica(s) / {replicas} loop(s) a side, after a warm-up of {warmUp:N0} actions a side");
                lines.Add($"  warm-up: bare {bareWarmUp.ActionsPerSecond:F0} actions/s, floor {floorWarmUp.ActionsPerSecond:F0} actions/s, " +
                          $"service {serviceWarmUp.ActionsPerSecond:F0} actions/s (not counted)");
                lines.Add($"  bare SQL  {bare}");
                lines.Add($"  floor SQL {floor}");
                lines.Add($"  service   {service}");
                lines.Add($"  ratio service / bare: {service.ActionsPerSecond / bare.ActionsPerSecond:F2} by actions/s, " +
                          $"{bare.CpuMicrosecondsPerAction / service.CpuMicrosecondsPerAction:F2} by CPU per action (bare / service)");
                lines.Add($"  the contract's floor: floor / bare {floor.ActionsPerSecond / bare.ActionsPerSecond:F2} by actions/s " +
                          $"({bare.CpuMicrosecondsPerAction / floor.CpuMicrosecondsPerAction:F2} by CPU); service / floor " +
                          $"{service.ActionsPerSecond / floor.ActionsPerSecond:F2} ({floor.CpuMicrosecondsPerAction / service.CpuMicrosecondsPerAction:F2} by CPU)");
                lines.Add($"  campaigns completed {campaignsCompleted:N0} of {campaigns + warmUpCampaigns:N0}; service peak RSS {string.Join(" / ", services.Select(s => $"{s.PeakRssMegabytes():F0} MiB"))}");
                foreach (var line in lines[^8..])
                    Console.WriteLine(line);
            }
            finally
            {
                foreach (var service in services)
                    await service.DisposeAsync();
            }
        }
        Console.WriteLine();
        foreach (var line in lines)
            Console.WriteLine(line);
    }

    /// <summary>
    /// Each round's campaigns, one round after the other: datasets and their rows straight into the tables (they are the
    /// dataset import's, measured apart); every campaign created and launched through the API, spread over the replicas;
    /// then waits until all so far are active with every lead due.
    /// </summary>
    private static async Task SetUpAsync(BenchEnvironment environment, List<ServiceUnderTest> services, int[] rounds, int leads)
    {
        for (var round = 0; round < rounds.Length; round++)
            await SetUpRoundAsync(environment, services, rounds[round], rounds[..(round + 1)].Sum(), leads);
    }

    private static async Task SetUpRoundAsync(BenchEnvironment environment, List<ServiceUnderTest> services, int campaigns, int campaignsSoFar, int leads)
    {
        var user = Guid.NewGuid();
        var datasets = Enumerable.Range(0, campaigns).Select(_ => Guid.NewGuid()).ToArray();
        await using var db = await environment.OpenAsync();
        await db.ExecuteAsync("""
            insert into datasets (dataset_id, user_id, name, row_count, columns)
            select d, @user, 'leads ' || (@first + i), @leads, '{email,first_name,last_name,company,linkedin_url,phone}'
            from unnest(@datasets::uuid[]) with ordinality as x (d, i);
            insert into dataset_rows (dataset_id, row_number, email, first_name, last_name, company)
            select d, n, 'lead' || (@first + i) || '-' || n || '@example.com', 'First' || n, 'Last' || n, 'Company ' || (@first + i)
            from unnest(@datasets::uuid[]) with ordinality as x (d, i), generate_series(1, @leads) n;
            """, new { user, datasets, leads, first = campaignsSoFar - campaigns }, commandTimeout: 0);

        var clients = services.Select(s => s.ClientFor(user)).ToList();
        // A window around the time now, every day: the whole run is inside the schedule.
        var now = DateTime.UtcNow;
        var aliases = new JsonArray(Enumerable.Range(1, Aliases).Select(a => (JsonNode)JsonValue.Create($"alias-{a}")).ToArray());
        var ids = new Guid[campaigns];
        await Parallel.ForEachAsync(Enumerable.Range(0, campaigns), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var client = clients[i % clients.Count];
            var body = new JsonObject
            {
                ["dataset_id"] = datasets[i],
                ["name"] = $"Dispatch {campaignsSoFar - campaigns + i}",
                ["type"] = "email",
                ["alias_ids"] = aliases.DeepClone(),
                ["daily_limit"] = 10000,
                ["min_interval_seconds"] = 60,
                ["timezone"] = "UTC",
                ["send_days"] = new JsonArray("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                ["sending_window_start"] = now.AddHours(-2).ToString("HH:mm", CultureInfo.InvariantCulture),
                ["sending_window_end"] = now.AddHours(6).ToString("HH:mm", CultureInfo.InvariantCulture),
                ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" }),
            };
            using var created = await client.PostAsJsonAsync("/api/v1/campaigns", body, ct);
            if (!created.IsSuccessStatusCode)
                throw new InvalidOperationException($"create answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync(ct)}");
            var id = ids[i] = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(ct))!["campaign_id"]!);
            using var launched = await client.PostAsync($"/api/v1/campaigns/{id}/launch", null, ct);
            if (!launched.IsSuccessStatusCode)
                throw new InvalidOperationException($"launch answered {(int)launched.StatusCode}: {await launched.Content.ReadAsStringAsync(ct)}");
        });
        foreach (var client in clients)
            client.Dispose();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var (active, due) = await db.QuerySingleAsync<(long, long)>("""
                select (select count(*) from campaigns where status = 'active'),
                       (select count(*) from leads where channel = 'email' and status = 'pending' and next_action_at <= now())
                """);
            if (active == campaignsSoFar && due == (long)campaignsSoFar * leads)
                return;
            if (await db.ExecuteScalarAsync<long>("select count(*) from campaigns where status = 'failed'") > 0 || deadline.Elapsed > TimeSpan.FromMinutes(20))
                throw new InvalidOperationException($"{active} of {campaignsSoFar} campaigns active, {due} leads due");
            await Task.Delay(500);
        }
    }

    private sealed class Progress(int total)
    {
        private int _done;

        public int Total { get; } = total;

        public bool Finished => Volatile.Read(ref _done) >= Total;

        public void Add(int actions) => Interlocked.Add(ref _done, actions);

        public int Done => Volatile.Read(ref _done);
    }

    /// <summary>One loop's record: the time of each of its claims and of each of its completions, and the claims that came back short.</summary>
    private sealed class LoopTimes
    {
        public List<double> Claims { get; } = [];
        public List<double> Completions { get; } = [];
        public int ShortClaims { get; set; }
    }

    /// <summary>
    /// A side's figures. CPU per action counts the processes doing that side's work: PostgreSQL and the harness (the
    /// bare loops, or the HTTP workers) and, for the service side, the service processes; while the bare loops run the
    /// idle service processes' time is shown apart.
    /// </summary>
    public sealed record Result(double ActionsPerSecond, TimeSpan Elapsed, int Actions, double ClaimP50, double ClaimP99, double CompleteP50,
        double CompleteP99, int ShortClaims, double? ServiceCpuMicroseconds, double PostgresCpuMicroseconds, double HarnessCpuMicroseconds,
        double ServiceIdleCpuMicroseconds, double OtherShare)
    {
        public double CpuMicrosecondsPerAction => (ServiceCpuMicroseconds ?? 0) + PostgresCpuMicroseconds + HarnessCpuMicroseconds;

        public override string ToString() =>
            $"{ActionsPerSecond,7:F0} actions/s  ({Actions:N0} in {Elapsed.TotalSeconds:F1} s)  " +
            $"claim p50 {ClaimP50:F1} ms p99 {ClaimP99:F1} ms, completion p50 {CompleteP50:F1} ms p99 {CompleteP99:F1} ms, {ShortClaims} short claims; " +
            "CPU per action: " + (ServiceCpuMicroseconds is { } service ? $"service {service:F0} + " : "") +
            $"PostgreSQL {PostgresCpuMicroseconds:F0} + harness {HarnessCpuMicroseconds:F0} = {CpuMicrosecondsPerAction:F0} µs" +
            (ServiceCpuMicroseconds is null ? $" (the idle service processes meanwhile: {ServiceIdleCpuMicroseconds:F0} µs)" : "") +
            $"; other processes {OtherShare:P0} of the busy CPU" + (OtherShare > 0.10 ? " NOT QUIET" : "");
    }

    private static async Task<Result> RunLoopsAsync(BenchEnvironment environment, List<ServiceUnderTest> services, bool servicesWork, int loops,
        int total, Func<int, Func<Progress, LoopTimes, Task>> loopFor)
    {
        var progress = new Progress(total);
        var times = Enumerable.Range(0, loops).Select(_ => new LoopTimes()).ToArray();
        var bodies = Enumerable.Range(0, loops).Select(loopFor).ToArray();
        var serverCpu = services.Sum(s => s.CpuSeconds());
        var postgresCpu = environment.PostgresCpuSeconds();
        var harnessCpu = Cpu.SelfAndReapedChildrenSeconds();
        var machine = Cpu.MachineTicks();
        var elapsed = await Measure.TimeAsync(() => Task.WhenAll(Enumerable.Range(0, loops).Select(loop => Task.Run(() => bodies[loop](progress, times[loop])))));
        var perAction = 1e6 / progress.Done;
        var serviceSeconds = services.Sum(s => s.CpuSeconds()) - serverCpu;
        var postgresSeconds = environment.PostgresCpuSeconds() - postgresCpu;
        var harnessSeconds = Cpu.SelfAndReapedChildrenSeconds() - harnessCpu;
        var busySeconds = (Cpu.MachineTicks().Busy - machine.Busy) / Cpu.TicksPerSecond;
        foreach (var service in services)
            service.ThrowIfExited();
        var claims = times.SelectMany(t => t.Claims).Order().ToArray();
        var completions = times.SelectMany(t => t.Completions).Order().ToArray();
        return new Result(progress.Done / elapsed.TotalSeconds, elapsed, progress.Done,
            Measure.Percentile(claims, 0.50), Measure.Percentile(claims, 0.99), Measure.Percentile(completions, 0.50), Measure.Percentile(completions, 0.99),
            times.Sum(t => t.ShortClaims),
            servicesWork ? serviceSeconds * perAction : null,
            postgresSeconds * perAction,
            harnessSeconds * perAction,
            serviceSeconds * perAction,
            Math.Max(0, busySeconds - serviceSeconds - postgresSeconds - harnessSeconds) / busySeconds);
    }

    /// <summary>Until every lead is done: claim a batch, complete it. A short or empty claim happens when the other loop holds rows; it goes on.</summary>
    private static Func<Progress, LoopTimes, Task> BareLoopAsync(string connectionString, int loop) =>
        SqlLoop(connectionString, $"bare loop {loop}",
            async connection => (await connection.QueryAsync<(Guid CampaignId, int RowNumber)>(BareClaimSql, new { batch = Batch })).ToList(),
            (connection, claimed) => connection.ExecuteAsync(BareCompleteSql, new
            {
                campaigns = claimed.Select(c => c.CampaignId).ToArray(),
                rows = claimed.Select(c => c.RowNumber).ToArray(),
            }));

    /// <summary>The contract's floor (see <see cref="FloorClaimSql"/>): the same loop, each claim and completion one statement.</summary>
    private static Func<Progress, LoopTimes, Task> FloorLoopAsync(string connectionString, int loop) =>
        SqlLoop(connectionString, $"floor loop {loop}",
            async connection =>
            {
                var ids = Enumerable.Range(0, Batch).Select(_ => Guid.CreateVersion7()).ToArray();
                var tokens = Enumerable.Range(0, Batch).Select(_ => Guid.NewGuid()).ToArray();
                return (await connection.QueryAsync<(Guid ActionId, Guid LeaseToken, string Email, string FirstName, string LastName, string Company,
                    string? Timezone, string? Attributes)>(FloorClaimSql, new { batch = Batch, dailyLimit = 10000, aliases = Aliases, ids, tokens })).ToList();
            },
            (connection, claimed) => connection.ExecuteAsync(FloorCompleteSql, new
            {
                ids = claimed.Select(c => c.ActionId).ToArray(),
                tokens = claimed.Select(c => c.LeaseToken).ToArray(),
            }));

    /// <summary>A plain SQL loop on one connection: claim a batch, complete it, until every lead is done; each step timed.</summary>
    private static Func<Progress, LoopTimes, Task> SqlLoop<T>(string connectionString, string name, Func<NpgsqlConnection, Task<List<T>>> claim,
        Func<NpgsqlConnection, List<T>, Task> complete) => async (progress, times) =>
    {
        // The service's own Npgsql settings (automatic preparation; one connection here, so never reset), so neither side is spared work.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 64 }.ConnectionString);
        await connection.OpenAsync();
        var deadline = Stopwatch.StartNew();
        var clock = new Stopwatch();
        while (!progress.Finished)
        {
            clock.Restart();
            var claimed = await claim(connection);
            times.Claims.Add(clock.Elapsed.TotalMilliseconds);
            if (claimed.Count < Batch)
                times.ShortClaims++;
            if (claimed.Count > 0)
            {
                clock.Restart();
                await complete(connection, claimed);
                times.Completions.Add(clock.Elapsed.TotalMilliseconds);
                progress.Add(claimed.Count);
            }
            else
                await Task.Delay(5);
            GiveUpAfter(deadline, progress, name);
        }
    };

    /// <summary>A channel worker against one replica: lease up to 100 email actions, report each `sent` in one batch.</summary>
    private static Func<Progress, LoopTimes, Task> WorkerLoopAsync(ServiceUnderTest service, int loop) => async (progress, times) =>
    {
        using var client = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceUnderTest.WorkerTokenFor($"bench-worker-{loop}"));
        var leaseBody = new JsonObject { ["channel"] = "email", ["max"] = Batch }.ToJsonString();
        var deadline = Stopwatch.StartNew();
        var clock = new Stopwatch();
        while (!progress.Finished)
        {
            clock.Restart();
            using var leased = await client.PostAsync("/api/v1/dispatch/leases", new StringContent(leaseBody, MediaTypeHeaderValue.Parse("application/json")));
            using var leases = await ReadAsync(leased, "lease");
            var items = new JsonArray();
            foreach (var lease in leases.RootElement.GetProperty("items").EnumerateArray())
                items.Add(new JsonObject
                {
                    ["action_id"] = lease.GetProperty("action_id").GetString(),
                    ["lease_token"] = lease.GetProperty("lease_token").GetString(),
                    ["outcome"] = "sent",
                });
            times.Claims.Add(clock.Elapsed.TotalMilliseconds);
            if (items.Count < Batch)
                times.ShortClaims++;
            if (items.Count > 0)
            {
                clock.Restart();
                var body = new JsonObject { ["items"] = items }.ToJsonString();
                using var reported = await client.PostAsync("/api/v1/dispatch/outcomes", new StringContent(body, MediaTypeHeaderValue.Parse("application/json")));
                using var answers = await ReadAsync(reported, "outcomes");
                times.Completions.Add(clock.Elapsed.TotalMilliseconds);
                foreach (var answer in answers.RootElement.GetProperty("items").EnumerateArray())
                    if (answer.GetProperty("status").GetInt32() != 200 || answer.GetProperty("lead_status").GetString() != "completed")
                        throw new InvalidOperationException($"an outcome answered {answer.GetRawText()}");
                progress.Add(items.Count);
            }
            else
                await Task.Delay(5);
            GiveUpAfter(deadline, progress, $"worker loop {loop}");
        }
    };

    private static async Task<JsonDocument> ReadAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    private static void GiveUpAfter(Stopwatch deadline, Progress progress, string loop)
    {
        if (deadline.Elapsed > TimeSpan.FromMinutes(30))
            throw new InvalidOperationException($"{loop}: {progress.Done:N0} of {progress.Total:N0} actions done after 30 minutes");
    }

    private static int Option(string[] args, string name, int fallback) =>
        int.Parse(OptionText(args, name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    private static string OptionText(string[] args, string name, string fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }
}
