using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Campaigns.LaunchFixtures;
using static CampaignSlices.Tests.Dispatch.DispatchFixtures;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>Who may reach the worker-facing API: tokens with the dispatch scope, and only them; and they reach nothing else.</summary>
public sealed class DispatchAuthTests(DispatchFactory api) : IClassFixture<DispatchFactory>, IAsyncLifetime
{
    private const string LeasesUrl = "/api/v1/dispatch/leases";

    public async ValueTask InitializeAsync() => await RetireCampaignsAsync(api);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_lease_without_a_token_is_401()
    {
        var response = await api.AnonymousClient().PostAsJsonAsync(LeasesUrl, new JsonObject { ["channel"] = "email" },
            TestContext.Current.CancellationToken);
        Assert.Equal(401, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task A_users_token_on_the_leases_is_403_naming_the_dispatch_scope_and_leases_nothing()
    {
        var (user, campaignId) = await DueCampaignAsync();

        var response = await user.PostAsJsonAsync(LeasesUrl, new JsonObject { ["channel"] = "email" }, TestContext.Current.CancellationToken);

        Assert.Equal(403, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(403, (int)problem["status"]!);
        Assert.Contains("dispatch", (string)problem["detail"]!);
        Assert.Contains("scope", (string)problem["detail"]!);
        var lead = await LeadAsync(api, campaignId, 1);
        Assert.Equal("pending", lead.Status);
        Assert.Null(lead.OpenActionId);
    }

    [Fact]
    public async Task A_workers_token_on_a_users_route_is_403()
    {
        var worker = api.WorkerClient();
        var (listed, problem) = await SendAsync(worker, HttpMethod.Get, "/api/v1/campaigns");
        Assert.Equal(403, listed);
        Assert.Contains("user", (string)problem["detail"]!);
        var (created, _) = await SendAsync(worker, HttpMethod.Post, "/api/v1/campaigns", Email(Guid.NewGuid()));
        Assert.Equal(403, created);
    }

    [Fact]
    public async Task A_token_whose_scope_claim_holds_dispatch_among_others_leases()
    {
        var (_, campaignId) = await DueCampaignAsync();
        var worker = api.CreateClient();
        worker.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = ApiFactory.TokenSettings.Issuer,
            Audience = ApiFactory.TokenSettings.Audience,
            Claims = new Dictionary<string, object> { ["sub"] = "reader-worker", ["scope"] = "read dispatch" },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(ApiFactory.TokenSettings.Key, SecurityAlgorithms.HmacSha256),
        }));

        var leases = await LeaseAsync(worker);

        var lease = Assert.Single(leases);
        Assert.Equal(campaignId.ToString(), (string)lease["campaign_id"]!);
        Assert.Equal("reader-worker", (await ActionAsync(api, lease)).Worker);
    }

    private async Task<(HttpClient User, Guid CampaignId)> DueCampaignAsync()
    {
        var userId = Guid.NewGuid();
        var user = api.ClientFor(userId);
        var datasetId = await SeedCompleteLeadsAsync(api, userId, 1);
        return (user, await LaunchAsync(api, user, userId, Email(datasetId).AlwaysOpen(api.Clock)));
    }
}
