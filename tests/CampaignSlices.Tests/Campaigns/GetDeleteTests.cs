using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>GET and DELETE of one campaign: ETags, isolation between users, draft-only deletion.</summary>
public sealed class GetDeleteTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly Guid _user = Guid.NewGuid();

    private async Task<(HttpClient Client, JsonObject Campaign)> CreatedAsync()
    {
        var client = api.ClientFor(_user);
        var campaign = await CreateAsync(client, Email(await SeedDatasetAsync(api, _user)));
        return (client, campaign);
    }

    private async Task<int> RowsAsync(JsonObject campaign)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<int>("select count(*) from campaigns where campaign_id = @id",
            new { id = Guid.Parse((string)campaign["campaign_id"]!) });
    }

    private static async Task<HttpResponseMessage> DeleteAsync(HttpClient client, JsonObject campaign, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/campaigns/{campaign["campaign_id"]}");
        if (ifMatch is not null)
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return await client.SendAsync(request, Ct);
    }

    [Fact]
    public async Task A_read_answers_every_write_of_the_row_whoever_made_it()
    {
        var (client, created) = await CreatedAsync();
        var url = $"/api/v1/campaigns/{created["campaign_id"]}";
        await client.GetAsync(url, Ct);

        await SendAsync(client, HttpMethod.Patch, url, new JsonObject { ["name"] = "Renamed" });
        var afterPatch = await client.GetAsync(url, Ct);
        // A write outside the API (an operator, a later migration) moves the version too, so no read answers the row as it was.
        await using (var connection = await api.OpenDatabaseAsync())
        await using (var command = new Npgsql.NpgsqlCommand("update campaigns set description = 'set in SQL' where campaign_id = @id", connection))
        {
            command.Parameters.AddWithValue("id", created["campaign_id"]!.GetValue<Guid>());
            await command.ExecuteNonQueryAsync(Ct);
        }
        var afterSql = await client.GetAsync(url, Ct);

        Assert.Equal("\"2\"", afterPatch.Headers.ETag?.Tag);
        Assert.Equal("Renamed", (string?)JsonNode.Parse(await afterPatch.Content.ReadAsStringAsync(Ct))!["name"]);
        Assert.Equal("\"3\"", afterSql.Headers.ETag?.Tag);
        Assert.Equal("set in SQL", (string?)JsonNode.Parse(await afterSql.Content.ReadAsStringAsync(Ct))!["description"]);
    }

    [Fact]
    public async Task Get_answers_the_created_campaign_with_its_etag()
    {
        var (client, created) = await CreatedAsync();

        var response = await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new EntityTagHeaderValue("\"1\""), response.Headers.ETag);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(created.ToJsonString(), JsonNode.Parse(text)!.ToJsonString());
        Snapshot.Match(text, "get-200");
    }

    [Fact]
    public async Task The_etag_follows_the_row_version()
    {
        var (client, created) = await CreatedAsync();
        await LaunchFixtures.SetStatusAsync(api, Guid.Parse((string)created["campaign_id"]!), "draft");

        var response = await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct);

        Assert.Equal(new EntityTagHeaderValue("\"2\""), response.Headers.ETag);
    }

    [Fact]
    public async Task Another_users_campaign_is_not_found_exactly_like_a_missing_one()
    {
        var (_, created) = await CreatedAsync();
        var stranger = api.ClientFor(Guid.NewGuid());
        var missingId = Guid.NewGuid();

        var others = await stranger.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct);
        var missing = await stranger.GetAsync($"/api/v1/campaigns/{missingId}", Ct);

        Assert.Equal(HttpStatusCode.NotFound, others.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", others.Content.Headers.ContentType?.MediaType);
        var othersText = (await others.Content.ReadAsStringAsync(Ct)).Replace((string)created["campaign_id"]!, missingId.ToString());
        var othersBody = JsonNode.Parse(othersText)!.AsObject();
        var missingBody = JsonNode.Parse(await missing.Content.ReadAsStringAsync(Ct))!.AsObject();
        othersBody.Remove("trace_id");
        missingBody.Remove("trace_id");
        Assert.Equal(missingBody.ToJsonString(), othersBody.ToJsonString());
        Snapshot.Match(othersText, "not-found-404");
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("DELETE")]
    public async Task A_malformed_id_is_a_bad_request_naming_campaign_id(string method)
    {
        var client = api.ClientFor(_user);

        var (status, problem) = await SendAsync(client, new HttpMethod(method), "/api/v1/campaigns/not-a-uuid");

        Assert.Equal(400, status);
        Assert.Equal(["campaign_id"], ErrorKeys(problem));
    }

    [Fact]
    public async Task Without_a_token_get_and_delete_answer_401()
    {
        var (_, created) = await CreatedAsync();
        var anonymous = api.AnonymousClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await DeleteAsync(anonymous, created)).StatusCode);
        Assert.Equal(1, await RowsAsync(created));
    }

    [Fact]
    public async Task Deleting_a_draft_removes_it()
    {
        var (client, created) = await CreatedAsync();

        var deleted = await DeleteAsync(client, created);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Empty(await deleted.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(0, await RowsAsync(created));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await DeleteAsync(client, created)).StatusCode);
        var (_, list) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns");
        Assert.Empty(list["items"]!.AsArray());
    }

    [Fact]
    public async Task Another_user_cannot_delete_a_campaign()
    {
        var (client, created) = await CreatedAsync();
        var stranger = api.ClientFor(Guid.NewGuid());

        Assert.Equal(HttpStatusCode.NotFound, (await DeleteAsync(stranger, created)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await DeleteAsync(stranger, created, "\"1\"")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct)).StatusCode);
    }

    [Theory]
    [InlineData("launching")]
    [InlineData("scheduled")]
    [InlineData("active")]
    [InlineData("draining")]
    [InlineData("paused")]
    [InlineData("completed")]
    [InlineData("failed")]
    [InlineData("cancelled")]
    public async Task Only_a_draft_can_be_deleted(string status)
    {
        var (client, created) = await CreatedAsync();
        await LaunchFixtures.SetStatusAsync(api, Guid.Parse((string)created["campaign_id"]!), status);

        var (code, problem) = await SendAsync(client, HttpMethod.Delete, $"/api/v1/campaigns/{created["campaign_id"]}");

        Assert.Equal(409, code);
        Assert.Contains(status, (string)problem["detail"]!);
        Assert.Equal(["status"], ErrorKeys(problem));
        Assert.Equal(1, await RowsAsync(created));
        if (status == "paused")
            Snapshot.Match(problem.ToJsonString(), "conflict-409");
    }

    [Fact]
    public async Task A_launched_campaign_cannot_be_deleted()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        await using (var db = await api.OpenDatabaseAsync())
            await db.ExecuteAsync("insert into dataset_rows (dataset_id, row_number, email, first_name) values (@dataset, 1, 'ada@example.com', 'Ada')",
                new { dataset });
        var created = await CreateAsync(client, Email(dataset));
        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{created["campaign_id"]}/launch")).Status);

        Assert.Equal(HttpStatusCode.Conflict, (await DeleteAsync(client, created)).StatusCode);
        Assert.Equal(1, await RowsAsync(created));
    }

    [Theory]
    [InlineData("\"2\"")]
    [InlineData("W/\"1\"")]
    [InlineData("\"one\"")]
    public async Task A_stale_or_weak_if_match_keeps_the_campaign(string ifMatch)
    {
        var (client, created) = await CreatedAsync();

        var response = await DeleteAsync(client, created, ifMatch);

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Equal(1, await RowsAsync(created));
    }

    [Theory]
    [InlineData("\"1\"")]
    [InlineData("*")]
    public async Task A_current_if_match_deletes(string ifMatch)
    {
        var (client, created) = await CreatedAsync();

        var response = await DeleteAsync(client, created, ifMatch);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, await RowsAsync(created));
    }

    [Fact]
    public async Task An_if_match_from_get_deletes_and_an_older_one_does_not()
    {
        var (client, created) = await CreatedAsync();
        var before = (await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct)).Headers.ETag!.ToString();
        await LaunchFixtures.SetStatusAsync(api, Guid.Parse((string)created["campaign_id"]!), "draft");
        var current = (await client.GetAsync($"/api/v1/campaigns/{created["campaign_id"]}", Ct)).Headers.ETag!.ToString();

        Assert.Equal(HttpStatusCode.PreconditionFailed, (await DeleteAsync(client, created, before)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync(client, created, current)).StatusCode);
    }
}
