// A reference channel worker: leases due actions from the campaign service, sends them (email through SMTP) or simulates
// their outcomes, and reports back. Ctrl-C (or SIGTERM) stops it after it has reported what it did.
using System.Runtime.InteropServices;

namespace CampaignSlices.Worker;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["--help"] or ["-h"])
        {
            Console.WriteLine(WorkerOptions.Usage);
            return 0;
        }
        var (options, error) = WorkerOptions.Parse(args, Environment.GetEnvironmentVariable(WorkerOptions.TokenVariable));
        if (options is null)
        {
            Console.Error.WriteLine(error);
            Console.Error.WriteLine(WorkerOptions.Usage);
            return 2;
        }
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext signal)
        {
            // The first signal asks for a clean stop; a second one ends the process as usual.
            signal.Cancel = !stop.IsCancellationRequested;
            stop.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            await new ChannelWorker(Console.Out).RunAsync(options, stop.Token);
            return 0;
        }
        catch (DispatchApiException refused) when (refused.IsRefused)
        {
            Console.Error.WriteLine($"The service refused the worker token ({refused.Message}). Give a token from the service's `token --worker NAME`.");
            return 1;
        }
    }
}
