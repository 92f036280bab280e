using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

public sealed class CreateCampaignTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();

    [Fact]
    public async Task Creates_a_draft_with_defaults_and_location()
    {
        var client = api.ClientFor(_user);
        var dataset = await SeedDatasetAsync(api, _user);
        var response = await client.PostAsJsonAsync("/api/v1/campaigns", Email(dataset), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal($"/api/v1/campaigns/{body["campaign_id"]}", response.Headers.Location!.OriginalString);
        Assert.Equal("draft", (string?)body["status"]);
        Assert.Equal(100, (int)body["daily_limit"]!);
        Assert.Equal("09:00", (string?)body["sending_window_start"]);
        Assert.Equal(2, (int)body["steps_config"]![1]!["step"]!);
        Assert.Null(body["system_prompt"]);
        Assert.True(body.ContainsKey("system_prompt"));
        TestContext.Current.SendDiagnosticMessage(text);
    }
}
