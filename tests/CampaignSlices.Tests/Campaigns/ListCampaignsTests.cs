using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>The list: keyset pages newest first, each campaign exactly once, filters, and what a bad query answers.</summary>
public sealed class ListCampaignsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    private async Task<(HttpClient Client, List<string> NewestFirst)> CreateManyAsync(int count, Func<Guid, int, JsonObject>? body = null)
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var campaign = body?.Invoke(dataset, i) ?? Email(dataset);
            campaign["name"] = $"campaign {i}";
            ids.Add((string)(await CreateAsync(client, campaign))["campaign_id"]!);
        }
        ids.Reverse();
        return (client, ids);
    }

    private static async Task<List<JsonObject>> PagesAsync(HttpClient client, string query, string? cursor = null)
    {
        var pages = new List<JsonObject>();
        do
        {
            var url = $"/api/v1/campaigns?{query}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var (status, page) = await SendAsync(client, HttpMethod.Get, url);
            Assert.True(status == 200, page.ToJsonString());
            pages.Add(page);
            cursor = (string?)page["next_cursor"];
            Assert.True(pages.Count < 100, "the cursor never ran out");
        } while (cursor is not null);
        return pages;
    }

    private static string[] Ids(IEnumerable<JsonObject> pages) =>
        pages.SelectMany(page => page["items"]!.AsArray()).Select(item => (string)item!["campaign_id"]!).ToArray();

    private async Task SetAsync(string column, object value, IEnumerable<string> ids)
    {
        await using var db = await api.OpenDatabaseAsync();
        await db.ExecuteAsync($"update campaigns set {column} = @value where campaign_id = any(@ids)",
            new { value, ids = ids.Select(Guid.Parse).ToArray() });
    }

    [Fact]
    public async Task Pages_through_every_campaign_once_newest_first()
    {
        var (client, newestFirst) = await CreateManyAsync(7);

        var pages = await PagesAsync(client, "limit=3");

        Assert.Equal([3, 3, 1], pages.Select(page => page["items"]!.AsArray().Count).ToArray());
        Assert.Equal(newestFirst, Ids(pages));
        var created = pages.SelectMany(page => page["items"]!.AsArray()).Select(item => DateTimeOffset.Parse((string)item!["created_at"]!)).ToList();
        Assert.Equal(created.OrderDescending(), created);
        Assert.Null(pages[^1]["next_cursor"]);
    }

    [Fact]
    public async Task A_page_that_ends_exactly_at_the_last_campaign_has_no_next_cursor()
    {
        var (client, newestFirst) = await CreateManyAsync(4);

        var pages = await PagesAsync(client, "limit=2");

        Assert.Equal(2, pages.Count);
        Assert.Equal(newestFirst, Ids(pages));
    }

    [Fact]
    public async Task Campaigns_created_at_the_same_instant_are_paged_by_id_without_gaps()
    {
        var (client, newestFirst) = await CreateManyAsync(6);
        await SetAsync("created_at", DateTimeOffset.Parse("2026-01-01T00:00:00Z"), newestFirst);

        var pages = await PagesAsync(client, "limit=4");

        Assert.Equal(newestFirst.Order(StringComparer.Ordinal).Reverse().ToArray(), Ids(pages));
    }

    [Fact]
    public async Task Campaigns_created_between_pages_neither_shift_nor_repeat_the_rest()
    {
        var (client, newestFirst) = await CreateManyAsync(5);
        var (_, first) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns?limit=2");
        var dataset = await SeedDatasetAsync(api, _user);
        var newer = (string)(await CreateAsync(client, Email(dataset)))["campaign_id"]!;

        var rest = await PagesAsync(client, "limit=2", (string)first["next_cursor"]!);
        var fresh = await PagesAsync(client, "limit=50");

        Assert.Equal(newestFirst, Ids([first, .. rest]));
        Assert.Equal([newer, .. newestFirst], Ids(fresh));
    }

    [Fact]
    public async Task The_default_page_holds_50()
    {
        var (client, newestFirst) = await CreateManyAsync(51);

        var (status, page) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns");
        var (_, all) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns?limit=200");

        Assert.Equal(200, status);
        Assert.Equal(newestFirst[..50], Ids([page]));
        Assert.NotNull(page["next_cursor"]);
        Assert.Equal(newestFirst, Ids([all]));
        Assert.Null(all["next_cursor"]);
    }

    [Fact]
    public async Task Filters_by_status_and_type_across_pages()
    {
        var (client, newestFirst) = await CreateManyAsync(8, (dataset, i) => i % 2 == 0 ? Email(dataset) : Linkedin(dataset));
        var cancelled = newestFirst.Where((_, i) => i % 3 == 0).ToList();
        await SetAsync("status", "cancelled", cancelled);
        var linkedin = newestFirst.Where((_, i) => i % 2 == 0).ToList();

        Assert.Equal(cancelled, Ids(await PagesAsync(client, "status=cancelled&limit=1")));
        Assert.Equal(newestFirst.Except(cancelled), Ids(await PagesAsync(client, "status=draft&limit=2")));
        Assert.Equal(linkedin, Ids(await PagesAsync(client, "type=linkedin&limit=3")));
        Assert.Equal(linkedin.Intersect(cancelled), Ids(await PagesAsync(client, "type=linkedin&status=cancelled")));
        Assert.Empty(Ids(await PagesAsync(client, "type=voice")));
        Assert.Empty(Ids(await PagesAsync(client, "status=active")));
    }

    [Fact]
    public async Task Lists_only_the_callers_campaigns()
    {
        var (client, mine) = await CreateManyAsync(2);
        var stranger = Guid.NewGuid();
        await CreateAsync(api.ClientFor(stranger), Email(await SeedDatasetAsync(api, stranger)));

        Assert.Equal(mine, Ids(await PagesAsync(client, "limit=1")));
        Assert.Single(Ids(await PagesAsync(api.ClientFor(stranger), "")));
        Assert.Empty(Ids(await PagesAsync(api.ClientFor(Guid.NewGuid()), "")));
    }

    [Theory]
    [InlineData("limit=1")]
    [InlineData("limit=200")]
    public async Task Accepts_limits_at_both_ends(string query)
    {
        var client = api.ClientFor(_user);

        var (status, page) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns?{query}");

        Assert.Equal(200, status);
        Assert.Empty(page["items"]!.AsArray());
        Assert.True(page.ContainsKey("next_cursor") && page["next_cursor"] is null);
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "limit=0", "limit" },
        { "limit=201", "limit" },
        { "limit=-1", "limit" },
        { "limit=ten", "limit" },
        { "limit=1.5", "limit" },
        { "limit=", "limit" },
        { "limit=99999999999", "limit" },
        { "cursor=not-a-cursor!", "cursor" },
        { "cursor=", "cursor" },
        { "cursor=" + Base64Url("hello"), "cursor" },
        { "cursor=" + Base64Url("123:not-a-guid"), "cursor" },
        { "cursor=" + Base64Url("-5:0193a5c4000070008000000000000001"), "cursor" },
        { "cursor=" + Base64Url("99999999999999999999:0193a5c4000070008000000000000001"), "cursor" },
        { "cursor=" + new string('A', 101), "cursor" },
        { "status=running", "status" },
        { "status=DRAFT", "status" },
        { "status=", "status" },
        { "type=sms", "type" },
    };

    private static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task Rejects_a_bad_query_naming_the_parameter(string query, string parameter)
    {
        var client = api.ClientFor(_user);

        var (status, problem) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns?{query}");

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal([parameter], ErrorKeys(problem));
    }

    [Fact]
    public async Task Reports_every_bad_parameter_at_once()
    {
        var client = api.ClientFor(_user);

        var (status, problem) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns?limit=0&cursor=x&status=on&type=fax");

        Assert.Equal(400, status);
        Assert.Equal(["cursor", "limit", "status", "type"], ErrorKeys(problem));
    }

    [Fact]
    public async Task Without_a_token_the_list_answers_401()
    {
        var (status, _) = await SendAsync(api.AnonymousClient(), HttpMethod.Get, "/api/v1/campaigns");

        Assert.Equal(401, status);
    }

    [Fact]
    public async Task A_list_page_matches_its_snapshot()
    {
        var (client, _) = await CreateManyAsync(2, (dataset, i) => i == 0 ? Linkedin(dataset) : Voice(dataset));

        var (status, page) = await SendAsync(client, HttpMethod.Get, "/api/v1/campaigns?limit=1");

        Assert.Equal(200, status);
        // The cursor encodes a creation time and an id, different on every run.
        Assert.False(string.IsNullOrEmpty((string?)page["next_cursor"]));
        page["next_cursor"] = "Cursor";
        Snapshot.Match(page.ToJsonString(), "list-page");
    }
}
