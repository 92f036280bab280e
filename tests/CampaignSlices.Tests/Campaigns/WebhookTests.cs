using System.Text.Json.Nodes;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

public sealed class WebhookApiFactory : ApiFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Webhooks:PollInterval"] = "00:00:00.2",
        ["Webhooks:InitialDelay"] = "00:00:00.2",
        ["Webhooks:MaxAttempts"] = "3",
        ["Webhooks:Timeout"] = "00:00:02",
    };
}

public sealed class WebhookTests(WebhookApiFactory api) : IClassFixture<WebhookApiFactory>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_changes_are_posted_signed_with_the_metadata()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, id) = await LaunchableCampaignAsync(receiver.Url);

        var (status, _) = await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch");
        Assert.Equal(202, status);
        await WaitForAsync(() => Task.FromResult(receiver.Requests.Count >= 2));
        var received = receiver.Requests.ToList();

        var bodies = received.Select(r => JsonNode.Parse(r.Body)!.AsObject()).ToList();
        Assert.Equal(["launch_requested", "launched"], bodies.Select(b => (string)b["type"]!).Order().ToArray());
        foreach (var (request, body) in received.Zip(bodies))
        {
            Assert.Equal(id, (string)body["campaign_id"]!);
            Assert.Equal("crm-42", (string)body["metadata"]!["account"]!);
            var timestamp = long.Parse(request.Signature!.Split(',')[0]["t=".Length..]);
            Assert.Equal(DeliverWebhooks.Sign(System.Text.Encoding.UTF8.GetBytes(ApiFactory.WebhookSecret), timestamp, request.Body), request.Signature);
            Assert.InRange(DateTimeOffset.FromUnixTimeSeconds(timestamp), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        }
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(2, await db.ExecuteScalarAsync<int>(
            "select count(*) from webhook_deliveries where campaign_id = @id and status = 'delivered' and attempts = 1", new { id = Guid.Parse(id) }));
    }

    [Fact]
    public async Task A_failing_endpoint_is_retried_with_backoff_then_given_up_without_touching_the_campaign()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.AnswerStatus = 503;
        var (client, id) = await LaunchableCampaignAsync(receiver.Url);

        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await using var db = await api.OpenDatabaseAsync();
        await WaitForAsync(async () => await db.ExecuteScalarAsync<int>(
            "select count(*) from webhook_deliveries where campaign_id = @id and status = 'dead'", new { id = Guid.Parse(id) }) == 2);

        var (_, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}");
        Assert.Equal("active", (string?)campaign["status"]);
        var attempts = receiver.Requests.GroupBy(r => r.DeliveryId).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, group =>
        {
            var times = group.Select(r => r.At).Order().ToList();
            Assert.Equal(3, times.Count);
            // Backoff: the second wait is about twice the first.
            Assert.True(times[2] - times[1] > times[1] - times[0], string.Join(", ", times));
        });
        Assert.Equal(3, await db.ExecuteScalarAsync<int>(
            "select max(attempts) from webhook_deliveries where campaign_id = @id", new { id = Guid.Parse(id) }));
    }

    private async Task<(HttpClient Client, string Id)> LaunchableCampaignAsync(string webhookUrl)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var dataset = await SeedDatasetAsync(api, user);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("insert into dataset_rows (dataset_id, row_number, email, first_name) values (@dataset, 1, 'a@example.com', 'Ann')", new { dataset });
        var body = Email(dataset);
        body["webhook_config"] = new JsonObject { ["url"] = webhookUrl, ["metadata"] = new JsonObject { ["account"] = "crm-42" } };
        var campaign = await CreateAsync(client, body);
        return (client, (string)campaign["campaign_id"]!);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException("The condition did not hold within 30 s.");
            await Task.Delay(100, Ct);
        }
    }
}
