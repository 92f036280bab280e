using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Webhooks;

/// <summary>The caller's current signing secret, as the secret endpoints answer it.</summary>
public sealed record WebhookSecret(string Secret, DateTimeOffset CreatedAt) : IAlwaysPresent
{
    public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string>();
}
