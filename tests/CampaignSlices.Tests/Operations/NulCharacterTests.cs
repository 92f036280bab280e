using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Campaigns;
using CampaignSlices.Tests.Infrastructure;
using Npgsql;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Operations;

/// <summary>PostgreSQL cannot store U+0000: a string holding it is a 400 naming its path wherever it is, and nothing is written.</summary>
public sealed class NulCharacterTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Nul = "a\u0000b";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> CampaignPaths =>
    [
        "name", "description", "signature", "steps_config[0].message_template", "alias_ids[0]", "webhook_config.metadata.note",
        "webhook_config.metadata.nested.deep", "timezone",
    ];

    [Theory]
    [MemberData(nameof(CampaignPaths))]
    public async Task A_nul_in_any_string_of_a_create_is_400_at_its_path_and_creates_nothing(string path)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var body = Email(await SeedDatasetAsync(api, user))
            .With("webhook_config", new JsonObject { ["url"] = "https://example.com/hook", ["metadata"] = new JsonObject { ["nested"] = new JsonObject() } })
            .With(path, Nul);

        var (status, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.Equal(400, status);
        Assert.Equal([path], ErrorKeys(problem));
        Assert.Equal(0, await CountAsync("select count(*) from campaigns where user_id = @user", user));
    }

    [Fact]
    public async Task A_nul_in_an_object_key_of_webhook_metadata_is_400()
    {
        var user = Guid.NewGuid();
        var body = Email(await SeedDatasetAsync(api, user))
            .With("webhook_config", new JsonObject { ["url"] = "https://example.com/hook", ["metadata"] = new JsonObject { [Nul] = "x" } });

        var (status, problem) = await SendAsync(api.ClientFor(user), HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.Equal(400, status);
        Assert.Equal(["webhook_config.metadata"], ErrorKeys(problem));
    }

    [Fact]
    public async Task A_nul_in_a_patch_is_400_and_changes_nothing()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var created = await CreateAsync(client, Email(await SeedDatasetAsync(api, user)));

        var (status, problem) = await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{created["campaign_id"]}",
            new JsonObject { ["description"] = Nul, ["steps_config"] = new JsonArray(new JsonObject { ["channel"] = "email", ["message_template"] = "ok" }) });

        Assert.Equal(400, status);
        Assert.Equal(["description"], ErrorKeys(problem));
        var (_, after) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{created["campaign_id"]}");
        Assert.Equal(created.ToJsonString(), after.ToJsonString());
    }

    [Theory]
    [InlineData("""{"name":"a\u0000b","rows":[{"email":"x@example.com"}]}""", "name")]
    [InlineData("""{"name":"leads","rows":[{"email":"x\u0000@example.com"}]}""", "rows[0].email")]
    [InlineData("""{"name":"leads","rows":[{"email":"x@example.com","co\u0000l":"v"}]}""", "rows[0]")]
    public async Task A_nul_in_a_json_dataset_is_400_at_its_path_and_imports_nothing(string json, string path)
    {
        var user = Guid.NewGuid();

        var response = await api.ClientFor(user).PostAsync("/api/v1/datasets", new StringContent(json, Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal([path], ErrorKeys(JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject()));
        Assert.Equal(0, await CountAsync("select count(*) from datasets where user_id = @user", user));
    }

    [Fact]
    public async Task A_nul_in_a_csv_datasets_name_is_400_and_imports_nothing()
    {
        var user = Guid.NewGuid();

        var response = await api.ClientFor(user).PostAsync("/api/v1/datasets?name=a%00b",
            new StringContent("email\nx@example.com\n", Encoding.UTF8, "text/csv"), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["name"], ErrorKeys(JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject()));
        Assert.Equal(0, await CountAsync("select count(*) from datasets where user_id = @user", user));
    }

    private async Task<long> CountAsync(string sql, Guid user)
    {
        await using var connection = await api.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("user", user);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
