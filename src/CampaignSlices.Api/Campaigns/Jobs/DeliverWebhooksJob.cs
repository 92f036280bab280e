using Quartz;

namespace CampaignSlices.Api.Campaigns.Jobs;

/// <summary>Polls the webhook outbox; one firing at a time across the cluster.</summary>
[DisallowConcurrentExecution]
public sealed class DeliverWebhooksJob(DeliverWebhooks.Handler deliver) : IJob
{
    public static readonly JobKey Key = new("deliver-webhooks", "webhooks");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken ct) => await deliver.DeliverDueAsync(ct);
}
