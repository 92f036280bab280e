using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>The service as a real operating-system process, for what only a process can show: being killed.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Uri _address;

    private ServiceProcess(Process process, Uri address)
    {
        _process = process;
        _address = address;
    }

    public static async Task<ServiceProcess> StartAsync(string connectionString, IReadOnlyDictionary<string, string?> settings)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CampaignSlices.Api.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment["ConnectionStrings__" + Database.ConnectionStringName] = connectionString;
        start.Environment["Auth__SigningKey"] = ApiFactory.SigningKey;
        start.Environment["DataProtection__KeyEncryptionKey"] = ApiFactory.KeyEncryptionKey;
        foreach (var (key, value) in settings)
            start.Environment[key.Replace(":", "__")] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var service = new ServiceProcess(process, new Uri($"http://127.0.0.1:{port}"));
        using var probe = new HttpClient { BaseAddress = service._address };
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await probe.GetAsync("/health/ready")).IsSuccessStatusCode)
                    return service;
            }
            catch (HttpRequestException)
            {
            }
            if (process.HasExited || DateTimeOffset.UtcNow > deadline)
                throw new InvalidOperationException($"The service process did not become ready (exited: {process.HasExited}).");
            await Task.Delay(200);
        }
    }

    public HttpClient ClientFor(Guid userId)
    {
        var client = new HttpClient { BaseAddress = _address };
        client.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", Auth.IssueToken(ApiFactory.TokenSettings, userId, TimeSpan.FromHours(1)));
        return client;
    }

    /// <summary>SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill would leave things.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
