using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// Preflight and launch (POST until active) of an email campaign over a 1,000,000-row dataset,
/// beside the plain SQL doing the same work on the same server: one aggregate query with the same rules,
/// and one INSERT ... SELECT into a table shaped like leads.
/// </summary>
public static class PreflightLaunchBenchmark
{
    // The rules of an email campaign whose template uses {{first_name}}, as plain SQL: the email's form, duplicates,
    // the user's unsubscribe list (empty here, as it is for the service), the placeholder.
    private const string PlainRows = """
        with source as (
            select row_number, nullif(btrim(email, E' \t\r\n'), '') as email, linkedin_url, phone, first_name,
                   row_number() over (partition by lower(nullif(btrim(email, E' \t\r\n'), '')) order by row_number) as duplicate_rank
            from dataset_rows where dataset_id = @datasetId
        ), checked as (
            select *, email is null or email !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' as bad_email,
                   email is not null and duplicate_rank > 1 as duplicate,
                   lower(email) in (select email from unsubscribes where user_id = @user) as unsubscribed,
                   nullif(btrim(first_name, E' \t\r\n'), '') is null as no_first_name
            from source
        )
        """;

    private const string PlainPreflight = PlainRows + """
        select count(*) as total, count(*) filter (where not bad_email and not duplicate and not unsubscribed) as launchable,
               count(*) filter (where bad_email) + count(*) filter (where duplicate) + count(*) filter (where no_first_name) as warnings
        from checked
        """;

    private const string PlainLaunch = PlainRows + """
        insert into plain_leads (campaign_id, row_number, email, linkedin_url, phone, next_action_at, enrolled_at, updated_at)
        select @campaignId, row_number, email, linkedin_url, phone, now(), now(), now()
        from checked where not bad_email and not duplicate and not unsubscribed
        on conflict (campaign_id, row_number) do nothing
        """;

    public static async Task RunAsync(string[] args)
    {
        var rows = args.Length > 0 ? int.Parse(args[0]) : 1_000_000;
        const int repeats = 3;
        await using var environment = await BenchEnvironment.StartAsync();
        var user = Guid.NewGuid();
        var datasetId = Guid.NewGuid();
        await using var db = await environment.OpenAsync();
        Console.WriteLine($"seeding {rows:N0} dataset rows (about 1 in 100 with a bad email, a duplicate or no first name)");
        await db.ExecuteAsync("""
            insert into datasets (dataset_id, user_id, name, row_count, columns)
            values (@datasetId, @user, 'leads', @rows, '{email,first_name,last_name,company,linkedin_url,phone}');
            insert into dataset_rows (dataset_id, row_number, email, first_name, last_name, company, linkedin_url, phone)
            select @datasetId, n,
                   case when n % 100 = 7 then 'not-an-email' when n % 100 = 8 then 'lead' || (n - 1) || '@example.com' else 'lead' || n || '@example.com' end,
                   case when n % 100 = 9 then null else 'First' || n end,
                   'Last' || n, 'Company ' || (n % 5000), 'https://www.linkedin.com/in/lead-' || n, '+1415' || lpad((n % 10000000)::text, 7, '0')
            from generate_series(1, @rows) n;
            create table plain_leads (like leads including all);
            """, new { datasetId, user, rows }, commandTimeout: 0);
        await db.ExecuteAsync("vacuum analyze dataset_rows", commandTimeout: 0);

        // The service gives its checks this much sort memory; the plain SQL gets the same.
        await db.ExecuteAsync("set work_mem = '64MB'");
        await using var service = await ServiceUnderTest.StartAsync(environment.ConnectionString);
        using var client = service.ClientFor(user);
        var campaignId = await CreateAsync(client, datasetId);

        var plainPreflight = new List<double>();
        var apiPreflight = new List<double>();
        for (var i = 0; i < repeats; i++)
        {
            plainPreflight.Add((await Measure.TimeAsync(() => db.QuerySingleAsync(PlainPreflight, new { datasetId, user }, commandTimeout: 0))).TotalMilliseconds);
            apiPreflight.Add((await Measure.TimeAsync(async () =>
            {
                using var response = await client.GetAsync($"/api/v1/campaigns/{campaignId}/preflight");
                response.EnsureSuccessStatusCode();
                await response.Content.CopyToAsync(Stream.Null);
            })).TotalMilliseconds);
        }

        var launchAnswered = TimeSpan.Zero;
        var apiLaunch = await Measure.TimeAsync(async () =>
        {
            var clock = Stopwatch.StartNew();
            using (var response = await client.PostAsync($"/api/v1/campaigns/{campaignId}/launch", null))
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"launch answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            launchAnswered = clock.Elapsed;
            await WaitUntilActiveAsync(client, campaignId);
        });
        var enrolled = await db.ExecuteScalarAsync<long>("select count(*) from leads where campaign_id = @campaignId", new { campaignId });
        var plainLaunch = await Measure.TimeAsync(() => db.ExecuteAsync(PlainLaunch, new { datasetId, campaignId, user }, commandTimeout: 0));
        var plainEnrolled = await db.ExecuteScalarAsync<long>("select count(*) from plain_leads");

        var preflightApi = Median(apiPreflight);
        var preflightPlain = Median(plainPreflight);
        Console.WriteLine($"preflight-launch: {rows:N0} rows, preflight median of {repeats}");
        Console.WriteLine($"  preflight  API {preflightApi,8:F0} ms   plain SQL {preflightPlain,8:F0} ms   ratio {preflightApi / preflightPlain:F2}");
        Console.WriteLine($"  launch     API {apiLaunch.TotalMilliseconds,8:F0} ms   plain SQL {plainLaunch.TotalMilliseconds,8:F0} ms   ratio {apiLaunch / plainLaunch:F2}");
        Console.WriteLine($"             of which the POST (its check) {launchAnswered.TotalMilliseconds:F0} ms, 202 to active (the enrollment job) {(apiLaunch - launchAnswered).TotalMilliseconds:F0} ms");
        Console.WriteLine($"  enrolled   API {enrolled:N0}   plain SQL {plainEnrolled:N0}");
        Console.WriteLine($"  service peak RSS: {service.PeakRssMegabytes():F0} MiB");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static async Task<Guid> CreateAsync(HttpClient client, Guid datasetId)
    {
        var body = new JsonObject
        {
            ["dataset_id"] = datasetId,
            ["name"] = "Preflight benchmark",
            ["type"] = "email",
            ["alias_ids"] = new JsonArray("alias-1"),
            ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "Hi {{first_name}}" }),
        };
        using var response = await client.PostAsJsonAsync("/api/v1/campaigns", body);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"create answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["campaign_id"]!);
    }

    private static async Task WaitUntilActiveAsync(HttpClient client, Guid campaignId)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var campaign = await client.GetFromJsonAsync<JsonObject>($"/api/v1/campaigns/{campaignId}");
            var status = (string?)campaign!["status"];
            if (status == "active")
                return;
            if (status is "failed" || deadline.Elapsed > TimeSpan.FromMinutes(10))
                throw new InvalidOperationException($"campaign is {status}: {campaign["launch_error"]}");
            await Task.Delay(20);
        }
    }
}
