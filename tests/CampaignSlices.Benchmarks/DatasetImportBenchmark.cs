using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Dapper;
using Npgsql;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// A 1,000,000-row, six-column CSV (about 110 MB) imported through POST /api/v1/datasets,
/// beside psql's \copy of the same file on the same server: into a table shaped like dataset_rows (same
/// columns and primary key, the row number from an identity) and into a bare table of six
/// text columns (PostgreSQL's floor for this file).
/// </summary>
public static class DatasetImportBenchmark
{
    private const string EquivalentTable = """
        create table psql_rows (
            dataset_id   uuid not null,
            row_number   integer generated always as identity check (row_number >= 1),
            email        text, first_name text, last_name text, company text, linkedin_url text, phone text,
            attributes   jsonb,
            primary key (dataset_id, row_number)
        );
        create table psql_bare (email text, first_name text, last_name text, company text, linkedin_url text, phone text);
        """;

    public static async Task RunAsync(string[] args)
    {
        var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var csv = await EnsureCsvAsync(rows);
        var megabytes = new FileInfo(csv).Length / 1024.0 / 1024.0;
        Console.WriteLine($"CSV: {csv} ({rows:N0} rows, {megabytes:F1} MiB)");

        await using var environment = await BenchEnvironment.StartAsync();
        await using var db = await environment.OpenAsync();
        await db.ExecuteAsync(EquivalentTable);
        await using var service = await ServiceUnderTest.StartAsync(environment.ConnectionString);
        var user = Guid.NewGuid();
        using var client = service.ClientFor(user);
        Console.WriteLine($"service started: peak RSS {service.PeakRssMegabytes():F0} MiB");

        var api = new List<double>();
        var apiCpu = new List<double>();
        var equivalent = new List<double>();
        var bare = new List<double>();
        for (var i = 0; i < repeats; i++)
        {
            await ResetAsync(db);
            var cpuBefore = service.CpuSeconds();
            api.Add((await Measure.TimeAsync(() => ImportAsync(client, csv, idempotencyKey: null))).TotalSeconds);
            apiCpu.Add(service.CpuSeconds() - cpuBefore);
            await ResetAsync(db);
            var psqlDataset = Guid.NewGuid();
            await db.ExecuteAsync("insert into datasets (dataset_id, user_id, name, columns) values (@psqlDataset, @user, 'psql', '{}')",
                new { psqlDataset, user });
            await db.ExecuteAsync($"alter table psql_rows alter column dataset_id set default '{psqlDataset}'");
            equivalent.Add((await Measure.TimeAsync(() => PsqlCopyAsync(environment, "psql_rows (email, first_name, last_name, company, linkedin_url, phone)", csv))).TotalSeconds);
            await ResetAsync(db);
            bare.Add((await Measure.TimeAsync(() => PsqlCopyAsync(environment, "psql_bare", csv))).TotalSeconds);
            Console.WriteLine($"run {i + 1}: API {api[^1]:F2} s (service CPU {apiCpu[^1]:F2} s)  psql equivalent table {equivalent[^1]:F2} s  psql bare table {bare[^1]:F2} s");
        }
        var peak = service.PeakRssMegabytes();

        // The same import with an Idempotency-Key: the body is fingerprinted while it streams, not buffered.
        await ResetAsync(db);
        var keyed = await Measure.TimeAsync(() => ImportAsync(client, csv, idempotencyKey: Guid.NewGuid().ToString()));
        var peakKeyed = service.PeakRssMegabytes();

        double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        Console.WriteLine();
        Console.WriteLine($"dataset import, {rows:N0} rows, {megabytes:F1} MiB CSV, median of {repeats} runs:");
        Console.WriteLine($"  API (POST text/csv -> binary COPY)      {Median(api),7:F2} s   {megabytes / Median(api),6:F1} MiB/s   service CPU {Median(apiCpu):F2} s");
        Console.WriteLine($"  psql \\copy, table like dataset_rows     {Median(equivalent),7:F2} s   ratio API/psql {Median(api) / Median(equivalent):F2}");
        Console.WriteLine($"  psql \\copy, bare six-text-column table  {Median(bare),7:F2} s   ratio API/psql {Median(api) / Median(bare):F2}");
        Console.WriteLine($"  service peak RSS {peak:F0} MiB; with an Idempotency-Key: {keyed.TotalSeconds:F2} s, peak RSS {peakKeyed:F0} MiB");
    }

    private static async Task ImportAsync(HttpClient client, string csv, string? idempotencyKey)
    {
        await using var file = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/datasets?name=benchmark") { Content = new StreamContent(file, 1 << 16) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"import answered {(int)response.StatusCode}: {body}");
    }

    private static async Task PsqlCopyAsync(BenchEnvironment environment, string target, string csv)
    {
        var connection = new NpgsqlConnectionStringBuilder(environment.ConnectionString);
        var start = new ProcessStartInfo(FindPsql()) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", connection.Host!, "-p", connection.Port.ToString(CultureInfo.InvariantCulture),
                     "-U", connection.Username!, "-d", connection.Database!,
                     "-c", $"\\copy {target} from '{csv}' with (format csv, header true)" })
            start.ArgumentList.Add(arg);
        using var psql = Process.Start(start)!;
        var errors = psql.StandardError.ReadToEndAsync();
        await psql.WaitForExitAsync();
        if (psql.ExitCode != 0)
            throw new InvalidOperationException($"psql failed: {await errors}");
    }

    private static string FindPsql() =>
        new[] { "/usr/lib/postgresql/17/bin/psql", "/usr/lib/postgresql/16/bin/psql", "/usr/lib/postgresql/15/bin/psql" }
            .FirstOrDefault(File.Exists) ?? "psql";

    /// <summary>Empties every table the runs fill and checkpoints (";" keeps Dapper from calling a procedure), so each run starts alike.</summary>
    private static async Task ResetAsync(NpgsqlConnection db)
    {
        await db.ExecuteAsync("truncate psql_bare, psql_rows, dataset_rows, datasets cascade", commandTimeout: 0);
        await db.ExecuteAsync("checkpoint;", commandTimeout: 0);
    }

    /// <summary>
    /// The CSV under bench-data/ (git-ignored) at the repository root, made once: about 110 bytes a row,
    /// CRLF line ends, and one company in ten quoted for its comma.
    /// </summary>
    private static async Task<string> EnsureCsvAsync(int rows)
    {
        var root = new DirectoryInfo(Directory.GetCurrentDirectory());
        while (root.Parent is not null && !File.Exists(Path.Combine(root.FullName, "CampaignSlices.sln")))
            root = root.Parent;
        var folder = Path.Combine(File.Exists(Path.Combine(root.FullName, "CampaignSlices.sln")) ? root.FullName : Directory.GetCurrentDirectory(), "bench-data");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"leads-{rows}.csv");
        if (File.Exists(path))
            return path;

        var partial = path + ".partial";
        await using (var writer = new StreamWriter(partial, false, new UTF8Encoding(false), 1 << 20))
        {
            await writer.WriteAsync("email,first_name,last_name,company,linkedin_url,phone\r\n");
            for (var n = 1; n <= rows; n++)
            {
                var company = n % 10 == 0 ? $"\"Company {n % 5000}, Inc.\"" : $"Company {n % 5000}";
                await writer.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                    $"lead{n}@example.com,First{n},Last{n},{company},https://www.linkedin.com/in/lead-{n},+1415{n % 10_000_000:D7}\r\n"));
            }
        }
        File.Move(partial, path);
        return path;
    }
}
