using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Webhooks;

/// <summary>The caller's webhook signing secret, read and rotated over HTTP.</summary>
public static class WebhookFixtures
{
    public static async Task<(string Secret, DateTimeOffset CreatedAt)> SecretAsync(HttpClient client, string path = "/api/v1/webhook-secret")
    {
        var (status, body) = await SendAsync(client, path.EndsWith("/rotate", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, path);
        Assert.True(status == 200, body.ToJsonString());
        return ((string)body["secret"]!, DateTimeOffset.Parse((string)body["created_at"]!));
    }

    public static Task<(string Secret, DateTimeOffset CreatedAt)> RotateAsync(HttpClient client) => SecretAsync(client, "/api/v1/webhook-secret/rotate");
}
