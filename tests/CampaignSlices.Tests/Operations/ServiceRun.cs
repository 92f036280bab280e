using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CampaignSlices.Tests.Operations;

/// <summary>
/// The built service (`dotnet CampaignSlices.Api.dll …`) as a process whose standard output and error
/// are kept, for what only its own output shows: a command's one line, a start-up error, the logs.
/// </summary>
internal sealed class ServiceRun : IAsyncDisposable
{
    /// <summary>
    /// Tests that start processes run after the others, one at a time: on a small machine the processes'
    /// start-up competes with the tests that schedule a launch a second or two ahead.
    /// </summary>
    public const string Collection = "Service processes";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private ServiceRun(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>
    /// Starts the service with <paramref name="args"/>. The environment is this process's without
    /// ASPNETCORE_ENVIRONMENT and DOTNET_ENVIRONMENT, then <paramref name="environment"/> (null removes).
    /// </summary>
    public static ServiceRun Start(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CampaignSlices.Api.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (name, value) in environment)
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }
        return new ServiceRun(Process.Start(start)!);
    }

    /// <summary>Runs a process that ends by itself (a command, a failed start) and returns what it said.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(
        IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        await using var run = Start(environment, args);
        return await run.ExitAsync();
    }

    public async Task<(int ExitCode, string Stdout, string Stderr)> ExitAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await _process.WaitForExitAsync(timeout.Token);
        return (_process.ExitCode, await _stdout, await _stderr);
    }

    /// <summary>Waits until /health/ready answers 200 on <paramref name="address"/>.</summary>
    public async Task WaitUntilReadyAsync(Uri address)
    {
        using var probe = new HttpClient { BaseAddress = address };
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            try
            {
                if ((await probe.GetAsync("/health/ready")).IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            if (_process.HasExited)
                throw new InvalidOperationException($"The service exited before it was ready: {await _stderr}");
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException("The service did not become ready.");
            await Task.Delay(200);
        }
    }

    /// <summary>SIGTERM, as an orchestrator stops a container: the service shuts down cleanly.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> StopAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        return await ExitAsync();
    }

    public static Uri FreeAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
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

[CollectionDefinition(ServiceRun.Collection, DisableParallelization = true)]
public sealed class ServiceProcessesCollection;
