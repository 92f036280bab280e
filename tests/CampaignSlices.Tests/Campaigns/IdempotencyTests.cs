using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>Idempotency-Key on POST (docs/api.md): replay, mismatch, a request still running, per-user keys, expiry.</summary>
public sealed class IdempotencyTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly Guid _user = Guid.NewGuid();

    private sealed record Answer(HttpStatusCode Status, string Body, bool Replayed, string? Location, string? ETag);

    private static async Task<Answer> PostAsync(HttpClient client, string path, string? key, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        using var response = await client.SendAsync(request, Ct);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(Ct),
            response.Headers.TryGetValues("Idempotent-Replayed", out var replayed) && replayed.Single() == "true",
            response.Headers.Location?.OriginalString, response.Headers.ETag?.ToString());
    }

    private static Task<Answer> CreateWithKeyAsync(HttpClient client, string? key, JsonObject body) =>
        PostAsync(client, "/api/v1/campaigns", key, body.ToJsonString());

    private async Task<int> CampaignsOfAsync(Guid user)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<int>("select count(*) from campaigns where user_id = @user", new { user });
    }

    [Fact]
    public async Task The_same_key_and_body_replay_the_first_response_and_create_once()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        var key = Guid.NewGuid().ToString();

        var first = await CreateWithKeyAsync(client, key, body);
        var second = await CreateWithKeyAsync(client, key, body);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.False(first.Replayed);
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.True(second.Replayed);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(first.Location, second.Location);
        Assert.Equal(first.ETag, second.ETag);
        Assert.Equal(1, await CampaignsOfAsync(_user));
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422_and_creates_nothing_more()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        var key = "order-42";
        Assert.Equal(HttpStatusCode.Created, (await CreateWithKeyAsync(client, key, body)).Status);

        var renamed = await CreateWithKeyAsync(client, key, body.With("name", "Another name"));
        var reordered = await PostAsync(client, "/api/v1/campaigns", key, " " + body.ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, renamed.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reordered.Status);
        Assert.Equal(1, await CampaignsOfAsync(_user));
        Snapshot.Match(renamed.Body, "mismatch-422");
    }

    [Fact]
    public async Task A_rejected_request_is_replayed_as_rejected()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        var invalid = body.With("daily_limit", 0);

        var first = await CreateWithKeyAsync(client, "k-invalid", invalid);
        var second = await CreateWithKeyAsync(client, "k-invalid", invalid);
        var corrected = await CreateWithKeyAsync(client, "k-invalid", body);

        Assert.Equal(HttpStatusCode.BadRequest, first.Status);
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.True(second.Replayed);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, corrected.Status);
        Assert.Equal(0, await CampaignsOfAsync(_user));
    }

    [Fact]
    public async Task Ten_concurrent_requests_with_one_key_create_one_campaign()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        var key = Guid.NewGuid().ToString();

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => CreateWithKeyAsync(client, key, body), Ct)));

        var original = Assert.Single(answers, a => a.Status == HttpStatusCode.Created && !a.Replayed);
        Assert.All(answers.Where(a => a != original), a =>
        {
            if (a.Status == HttpStatusCode.Created)
            {
                Assert.True(a.Replayed);
                Assert.Equal(original.Body, a.Body);
            }
            else
                Assert.Equal(HttpStatusCode.Conflict, a.Status);
        });
        Assert.Equal(1, await CampaignsOfAsync(_user));
        var afterwards = await CreateWithKeyAsync(client, key, body);
        Assert.True(afterwards.Replayed);
        Assert.Equal(original.Body, afterwards.Body);
    }

    [Fact]
    public async Task A_request_still_in_flight_answers_409_and_an_abandoned_claim_is_taken_over()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("insert into idempotency_keys (user_id, key, created_at) values (@user, 'running', now()), (@user, 'abandoned', now() - interval '6 minutes')",
            new { user = _user });

        var running = await CreateWithKeyAsync(client, "running", body);
        var abandoned = await CreateWithKeyAsync(client, "abandoned", body);

        Assert.Equal(HttpStatusCode.Conflict, running.Status);
        Snapshot.Match(running.Body, "in-flight-409");
        Assert.Equal(HttpStatusCode.Created, abandoned.Status);
        Assert.False(abandoned.Replayed);
        Assert.Equal(1, await CampaignsOfAsync(_user));
    }

    [Fact]
    public async Task Keys_belong_to_their_user()
    {
        var other = Guid.NewGuid();
        var mine = await CreateWithKeyAsync(api.ClientFor(_user), "shared-key", Email(await SeedDatasetAsync(api, _user)));
        var theirs = await CreateWithKeyAsync(api.ClientFor(other), "shared-key", Email(await SeedDatasetAsync(api, other)));

        Assert.Equal(HttpStatusCode.Created, mine.Status);
        Assert.Equal(HttpStatusCode.Created, theirs.Status);
        Assert.False(theirs.Replayed);
        Assert.NotEqual(mine.Location, theirs.Location);
        Assert.Equal(other.ToString(), (string?)JsonNode.Parse(theirs.Body)!["user_id"]);
        Assert.Equal(1, await CampaignsOfAsync(_user));
        Assert.Equal(1, await CampaignsOfAsync(other));
    }

    [Fact]
    public async Task A_key_expires_after_24_hours()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));
        Assert.Equal(HttpStatusCode.Created, (await CreateWithKeyAsync(client, "daily", body)).Status);
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("update idempotency_keys set created_at = created_at - interval '23 hours 59 minutes' where user_id = @user", new { user = _user });
        Assert.True((await CreateWithKeyAsync(client, "daily", body)).Replayed);
        await db.ExecuteAsync("update idempotency_keys set created_at = created_at - interval '2 minutes' where user_id = @user", new { user = _user });

        var later = await CreateWithKeyAsync(client, "daily", body.With("name", "Next day"));

        Assert.Equal(HttpStatusCode.Created, later.Status);
        Assert.False(later.Replayed);
        Assert.Equal(2, await CampaignsOfAsync(_user));
    }

    [Fact]
    public async Task Without_a_key_every_request_creates()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));

        var first = await CreateWithKeyAsync(client, null, body);
        var second = await CreateWithKeyAsync(client, null, body);

        Assert.NotEqual(first.Location, second.Location);
        Assert.False(second.Replayed);
        Assert.Equal(2, await CampaignsOfAsync(_user));
    }

    [Theory]
    [InlineData(255, HttpStatusCode.Created)]
    [InlineData(256, HttpStatusCode.BadRequest)]
    public async Task Keys_hold_up_to_255_characters(int length, HttpStatusCode expected)
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user));

        var answer = await CreateWithKeyAsync(client, new string('k', length), body);

        Assert.Equal(expected, answer.Status);
        if (expected == HttpStatusCode.BadRequest)
        {
            Assert.Equal(["Idempotency-Key"], ErrorKeys(JsonNode.Parse(answer.Body)!.AsObject()));
            Assert.Equal(0, await CampaignsOfAsync(_user));
        }
    }

    [Fact]
    public async Task A_lifecycle_post_is_replayed_without_running_twice()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync("insert into dataset_rows (dataset_id, row_number, email, first_name) values (@dataset, 1, 'ada@example.com', 'Ada')", new { dataset });
        var campaign = await CreateAsync(client, Email(dataset));
        var path = $"/api/v1/campaigns/{campaign["campaign_id"]}/launch";

        var first = await PostAsync(client, path, "launch-1", "");
        var second = await PostAsync(client, path, "launch-1", "");
        var unkeyed = await PostAsync(client, path, null, "");

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.Accepted, second.Status);
        Assert.True(second.Replayed);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(HttpStatusCode.Conflict, unkeyed.Status);
        Assert.Equal(1, await db.ExecuteScalarAsync<int>(
            "select count(*) from campaign_events where campaign_id = @id and type = 'launch_requested'", new { id = Guid.Parse((string)campaign["campaign_id"]!) }));
    }
}
