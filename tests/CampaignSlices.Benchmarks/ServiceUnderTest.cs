using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using CampaignSlices.Api.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace CampaignSlices.Benchmarks;

/// <summary>
/// The service as it runs in production: its own Release build as an operating-system process, so that
/// its peak resident memory can be read from /proc.
/// </summary>
public sealed class ServiceUnderTest : IAsyncDisposable
{
    private const string SigningKey = "benchmark-signing-key-that-is-long-enough-for-hs256";
    private static readonly Auth.Settings TokenSettings =
        new(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(SigningKey)), "campaign-slices", "campaign-slices");

    private readonly Process _process;

    private ServiceUnderTest(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    public static Task<ServiceUnderTest> StartAsync(string connectionString, IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__" + Database.ConnectionStringName] = connectionString,
            ["Auth__SigningKey"] = SigningKey,
            ["DataProtection__KeyEncryptionKey"] = "benchmark-key-encryption-key-long-enough",
            // Request logs at Information would measure the console, not the service.
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            environment[key.Replace(":", "__")] = value;
        return StartAsync("CampaignSlices.Api.dll", [], environment, "/health/ready");
    }

    /// <summary>
    /// This harness itself in another mode (the bare ceiling), a process apart like the service, started the
    /// same way: `dotnet` with this build's runtimeconfig, the same inherited environment.
    /// </summary>
    public static Task<ServiceUnderTest> StartHarnessModeAsync(string mode, params string[] args) =>
        StartAsync("CampaignSlices.Benchmarks.dll", [mode, .. args], new Dictionary<string, string>(), "/ready");

    private static async Task<ServiceUnderTest> StartAsync(string dll, string[] args, Dictionary<string, string> environment, string readyPath)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("  service: " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("  service: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var service = new ServiceUnderTest(process, new Uri($"http://127.0.0.1:{port}"));
        using var probe = new HttpClient { BaseAddress = service.Address };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await probe.GetAsync(readyPath)).IsSuccessStatusCode)
                    return service;
            }
            catch (HttpRequestException)
            {
            }
            if (process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"{dll} did not become ready; its output is above.");
            await Task.Delay(200);
        }
    }

    /// <summary>A client acting as <paramref name="userId"/>, with enough connections for concurrent load.</summary>
    public HttpClient ClientFor(Guid userId)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        var client = new HttpClient(handler) { BaseAddress = Address, Timeout = TimeSpan.FromMinutes(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TokenFor(userId));
        return client;
    }

    /// <summary>A bearer token for <paramref name="userId"/> that the service accepts (valid for two hours).</summary>
    public static string TokenFor(Guid userId) => Auth.IssueToken(TokenSettings, userId, TimeSpan.FromHours(2));

    /// <summary>A channel worker's bearer token (the dispatch scope) naming <paramref name="worker"/>, valid for two hours.</summary>
    public static string WorkerTokenFor(string worker) => Auth.IssueWorkerToken(TokenSettings, worker, TimeSpan.FromHours(2));

    /// <summary>Peak resident set size of the service process so far (VmHWM), in MiB.</summary>
    public double PeakRssMegabytes() => ReadStatusKilobytes("VmHWM") / 1024.0;

    /// <summary>Fails when the process has gone (a crash, or a kill from outside the benchmark) rather than report a round without it.</summary>
    public void ThrowIfExited()
    {
        if (_process.HasExited)
            throw new InvalidOperationException($"process {_process.Id} exited with code {_process.ExitCode} during the load (137 = SIGKILL from outside)");
    }

    /// <summary>Processor time the service process has used so far, user and system, in seconds.</summary>
    public double CpuSeconds()
    {
        _process.Refresh();
        return _process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>How many of the process's threads carry <paramref name="name"/> (e.g. ".NET Server GC").</summary>
    public int ThreadsNamed(string name) =>
        Directory.GetDirectories($"/proc/{_process.Id}/task")
            .Count(task => File.ReadAllText(Path.Combine(task, "comm")).Trim() == name);

    private long ReadStatusKilobytes(string field)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]);
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
