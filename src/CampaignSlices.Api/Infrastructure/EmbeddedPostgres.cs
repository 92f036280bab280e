using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// A PostgreSQL cluster run from the machine's own binaries: the dev database of `dotnet run`
/// (data kept between runs) and the throw-away cluster of a test run.
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    private static readonly string[] BinaryFolders =
    [
        "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin",
        "/usr/local/pgsql/bin", "/usr/pgsql-15/bin",
    ];

    private readonly string _binDir;
    private readonly bool _ownsServer;

    public string DataDirectory { get; }
    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    private EmbeddedPostgres(string binDir, string dataDirectory, int port, bool ownsServer)
    {
        _binDir = binDir;
        DataDirectory = dataDirectory;
        Port = port;
        _ownsServer = ownsServer;
    }

    /// <summary>
    /// Starts (initialising when empty) the cluster in <paramref name="dataDirectory"/>, or reuses the
    /// server already running on it after an unclean stop. <paramref name="throwAway"/> trades
    /// durability for speed and is only for test clusters.
    /// </summary>
    public static async Task<EmbeddedPostgres> StartAsync(string dataDirectory, bool throwAway, CancellationToken ct = default)
    {
        var binDir = FindBinaries();
        dataDirectory = Path.GetFullPath(dataDirectory);
        var asRoot = Environment.UserName == "root";

        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            Directory.CreateDirectory(dataDirectory);
            if (asRoot)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", dataDirectory], ct);
                await EnsurePostgresCanReachAsync(dataDirectory, ct);
            }
            await RunPgToolAsync(binDir, "initdb", ["-D", dataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"], asRoot, ct);
        }

        var running = ReadRunningPort(dataDirectory);
        if (running is int port && await IsAcceptingAsync(port))
            return new EmbeddedPostgres(binDir, dataDirectory, port, ownsServer: !throwAway);

        port = FreePort();
        // Unix sockets are off: socket paths are limited to ~100 bytes and a deep data folder would exceed it.
        var options = $"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200";
        if (throwAway)
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        await RunPgToolAsync(binDir, "pg_ctl",
            ["-D", dataDirectory, "-o", options, "-l", Path.Combine(dataDirectory, "server.log"), "-w", "-t", "60", "start"], asRoot, ct);
        return new EmbeddedPostgres(binDir, dataDirectory, port, ownsServer: true);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_ownsServer)
            return;
        await RunPgToolAsync(_binDir, "pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "stop"], Environment.UserName == "root", CancellationToken.None);
    }

    /// <summary>Stops the server running on <paramref name="dataDirectory"/>, if any (a cluster left by a killed process).</summary>
    public static async Task StopIfRunningAsync(string dataDirectory)
    {
        if (File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
            await RunPgToolAsync(FindBinaries(), "pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"], Environment.UserName == "root", CancellationToken.None);
    }

    private static string FindBinaries()
    {
        var configured = Environment.GetEnvironmentVariable("PG_BIN");
        var candidates = configured is null ? BinaryFolders : [configured, .. BinaryFolders];
        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, "pg_ctl")))
            ?? throw new ConfigurationException(
                "No PostgreSQL binaries found (looked for pg_ctl in " + string.Join(", ", candidates) + "). " +
                "Install them (Debian/Ubuntu: `apt-get install postgresql`), point PG_BIN at the folder holding pg_ctl, " +
                "or give a server with ConnectionStrings__Campaigns.");
    }

    private static int? ReadRunningPort(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile))
            return null;
        // postmaster.pid: line 4 holds the port the server listens on.
        var lines = File.ReadAllLines(pidFile);
        return lines.Length > 3 && int.TryParse(lines[3], out var port) ? port : null;
    }

    private static async Task<bool> IsAcceptingAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task EnsurePostgresCanReachAsync(string dataDirectory, CancellationToken ct)
    {
        try
        {
            await RunAsync("runuser", ["-u", "postgres", "--", "test", "-w", dataDirectory], ct);
        }
        catch (InvalidOperationException)
        {
            throw new ConfigurationException(
                $"Running as root, PostgreSQL runs as the 'postgres' user, which cannot reach {dataDirectory}. " +
                "Choose a data folder it can reach with LocalData:Folder (the LocalData__Folder environment variable), e.g. under /var/tmp, " +
                "or give a server with ConnectionStrings__Campaigns.");
        }
    }

    private static Task RunPgToolAsync(string binDir, string tool, string[] args, bool asRoot, CancellationToken ct) =>
        asRoot
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(binDir, tool), .. args], ct)
            : RunAsync(Path.Combine(binDir, tool), args, ct);

    private static async Task RunAsync(string file, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        // pg_ctl start leaves the server holding inherited pipes, so read to the exit, not to end of stream.
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode == 0)
            return;
        var output = "";
        try
        {
            output = string.Join(' ', await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(2), ct)).Trim();
        }
        catch (TimeoutException)
        {
        }
        throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} failed with exit code {process.ExitCode}: {output}");
    }
}
