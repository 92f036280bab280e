using CampaignSlices.Benchmarks;

// One scenario per file; each prints its figures in the form BENCHMARKS.md quotes.
var scenarios = new Dictionary<string, Func<string[], Task>>(StringComparer.OrdinalIgnoreCase)
{
    ["campaign-get"] = CampaignApiBenchmark.RunGetAsync,
    ["campaign-post"] = CampaignApiBenchmark.RunPostAsync,
    ["campaign-api"] = CampaignApiBenchmark.RunGetAndPostAsync,
    // Not a scenario: the bare ceiling process that the campaign scenarios start.
    ["ceiling"] = CampaignApiBenchmark.RunCeilingAsync,
    ["preflight-launch"] = PreflightLaunchBenchmark.RunAsync,
    ["schedule-lag"] = ScheduleLagBenchmark.RunAsync,
    ["dataset-import"] = DatasetImportBenchmark.RunAsync,
    ["dispatch-throughput"] = DispatchThroughputBenchmark.RunAsync,
    ["call-rate"] = CallRateBenchmark.RunAsync,
};

if (args.Length == 0 || !scenarios.TryGetValue(args[0], out var scenario))
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project tests/CampaignSlices.Benchmarks -- <scenario> [options]");
    Console.Error.WriteLine("scenarios: " + string.Join(", ", scenarios.Keys));
    return 2;
}
await scenario(args[1..]);
return 0;

