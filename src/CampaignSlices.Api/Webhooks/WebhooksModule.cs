using Carter;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Webhooks;

/// <summary>The route table of the webhooks area: the caller's signing secret.</summary>
public sealed class WebhooksModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var secret = app.MapGroup("/api/v1/webhook-secret").WithTags("Webhooks").WithIdempotencyKeys();
        secret.MapGet("/", GetWebhookSecret.Endpoint).WithName("GetWebhookSecret")
            .WithSummary("Read the caller's webhook signing secret")
            .WithDescription("The secret (whsec_ and base64) that the caller's webhook deliveries are signed with, in the Standard Webhooks form; made on first use. "
                + "A receiver verifies webhook-signature with it. Another user's deliveries are signed with their own secret.");
        secret.MapPost("/rotate", RotateWebhookSecret.Endpoint).WithName("RotateWebhookSecret").WithSecretAnswer()
            .WithSummary("Replace the caller's webhook signing secret")
            .WithDescription("Makes a new secret and answers it. For 24 hours deliveries carry a signature under the new secret and one under the previous, "
                + "so receivers can move over; after that only the new one. Honours Idempotency-Key.");
    }
}
