namespace CampaignSlices.Api.Webhooks;

/// <summary>What the webhooks area needs beyond its Mediator handlers: the secret store.</summary>
public static class WebhookServices
{
    public static void AddWebhooks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WebhookSecrets>();
    }
}
