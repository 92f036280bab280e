// The caller's webhook signing secret, made on first use.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using OneOf;

namespace CampaignSlices.Api.Webhooks;

public static class GetWebhookSecret
{
    // No expected failure: every user has a secret, or is given one now.
    public sealed record Query(Guid UserId) : IQuery<OneOf<WebhookSecret>>;

    public static async Task<Ok<WebhookSecret>> Endpoint(ClaimsPrincipal user, ISender sender, CancellationToken ct) =>
        (await sender.Send(new Query(user.UserId()), ct)).Match(secret => TypedResults.Ok(secret));

    public sealed class Handler(WebhookSecrets secrets) : IQueryHandler<Query, OneOf<WebhookSecret>>
    {
        public async ValueTask<OneOf<WebhookSecret>> Handle(Query query, CancellationToken ct)
        {
            var stored = await secrets.GetOrCreateAsync(query.UserId, ct);
            return new WebhookSecret(stored.Secret, stored.CreatedAt);
        }
    }
}
