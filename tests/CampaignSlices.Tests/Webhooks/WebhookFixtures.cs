using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Webhooks;

/// <summary>Campaigns whose status changes post to a webhook, and what the outbox made of them.</summary>
public static class WebhookFixtures
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    public sealed record Delivery(Guid DeliveryId, string Status, int Attempts, string? LastError);

    public sealed record AttemptRow(Guid DeliveryId, int Attempt, int? ResponseStatus, string? Error, string DeliveryStatus);

    /// <summary>A draft of a new user, with one launchable lead and a webhook_config posting to <paramref name="webhookUrl"/>.</summary>
    public static async Task<(HttpClient Client, Guid User, string Id)> LaunchableCampaignAsync(ApiFactory api, string webhookUrl)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var dataset = await SeedDatasetAsync(api, user);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("insert into dataset_rows (dataset_id, row_number, email, first_name) values (@dataset, 1, 'a@example.com', 'Ann')", new { dataset });
        var body = Email(dataset);
        body["webhook_config"] = new JsonObject { ["url"] = webhookUrl, ["metadata"] = new JsonObject { ["account"] = "crm-42" } };
        var campaign = await CreateAsync(client, body);
        return (client, user, (string)campaign["campaign_id"]!);
    }

    /// <summary>As <see cref="LaunchableCampaignAsync"/>, launched: its launch_requested and launched changes are two deliveries.</summary>
    public static async Task<(HttpClient Client, Guid User, string Id)> LaunchedCampaignAsync(ApiFactory api, string webhookUrl)
    {
        var campaign = await LaunchableCampaignAsync(api, webhookUrl);
        var (status, body) = await SendAsync(campaign.Client, HttpMethod.Post, $"/api/v1/campaigns/{campaign.Id}/launch");
        Assert.True(status == 202, body.ToJsonString());
        return campaign;
    }

    public static async Task<List<Delivery>> DeliveriesAsync(ApiFactory api, string campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return [.. await db.QueryAsync<Delivery>(
            "select delivery_id, status, attempts, last_error from webhook_deliveries where campaign_id = @id order by created_at",
            new { id = Guid.Parse(campaignId) })];
    }

    public static async Task<List<AttemptRow>> AttemptsAsync(ApiFactory api, string campaignId)
    {
        await using var db = await api.OpenDatabaseAsync();
        return [.. await db.QueryAsync<AttemptRow>("""
            select a.delivery_id, a.attempt, a.response_status, a.error, a.delivery_status
            from webhook_delivery_attempts a join webhook_deliveries d using (delivery_id)
            where d.campaign_id = @id order by a.delivery_id, a.attempt
            """, new { id = Guid.Parse(campaignId) })];
    }

    /// <summary>Waits until every delivery of the campaign is delivered or given up (at least <paramref name="count"/> of them).</summary>
    public static async Task<List<Delivery>> WaitForSettledAsync(ApiFactory api, string campaignId, int count = 2)
    {
        List<Delivery> deliveries = [];
        await WaitForAsync(async () =>
        {
            deliveries = await DeliveriesAsync(api, campaignId);
            return deliveries.Count >= count && deliveries.All(d => d.Status != "pending");
        });
        return deliveries;
    }

    /// <summary>The deadline only turns a broken job into a failure instead of a hang; it is not a timing assertion.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException("The condition did not hold within 60 s.");
            await Task.Delay(100, Ct);
        }
    }

    /// <summary>
    /// A receiver's check written from the Standard Webhooks description, apart from the service's
    /// code: some `v1,` signature in the header is the HMAC-SHA256 of `{id}.{timestamp}.{body}`
    /// under the base64-decoded part of the secret after `whsec_`.
    /// </summary>
    public static bool SignedWith(WebhookReceiver.Received request, string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{request.Id}.{request.Timestamp}.{request.Body}"));
        return request.Signature!.Split(' ').Any(signature => signature.StartsWith("v1,", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(signature[3..]), expected));
    }

    public static async Task<(string Secret, DateTimeOffset CreatedAt)> SecretAsync(HttpClient client, string path = "/api/v1/webhook-secret")
    {
        var (status, body) = await SendAsync(client, path.EndsWith("/rotate", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, path);
        Assert.True(status == 200, body.ToJsonString());
        return ((string)body["secret"]!, DateTimeOffset.Parse((string)body["created_at"]!));
    }

    public static Task<(string Secret, DateTimeOffset CreatedAt)> RotateAsync(HttpClient client) => SecretAsync(client, "/api/v1/webhook-secret/rotate");
}
