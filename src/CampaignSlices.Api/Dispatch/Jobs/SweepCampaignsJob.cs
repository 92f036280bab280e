using Quartz;

namespace CampaignSlices.Api.Dispatch.Jobs;

/// <summary>Runs the sweep on one replica at a time, every Dispatch:SweepInterval (default 10 s).</summary>
[DisallowConcurrentExecution]
public sealed class SweepCampaignsJob(SweepCampaigns.Handler sweep) : IJob
{
    public static readonly JobKey Key = new("sweep-campaigns", "dispatch");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct) => await sweep.SweepAsync(ct);
}
