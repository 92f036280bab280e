namespace CampaignSlices.Api.Webhooks;

/// <summary>What the webhooks area needs beyond its Mediator handlers: the secret store and the network policy of deliveries.</summary>
public static class WebhookServices
{
    public static void AddWebhooks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WebhookSecrets>();
        builder.Services.AddSingleton(new WebhookTargets(builder.Configuration.GetValue("Webhooks:AllowPrivateNetworks", builder.Environment.IsDevelopment())));
    }
}
