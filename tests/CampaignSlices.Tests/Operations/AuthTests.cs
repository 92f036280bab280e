using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CampaignSlices.Tests.Operations;

public sealed class AuthTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string ProtectedUrl = "/api/v1/campaigns";
    private static readonly Auth.Settings Valid = ApiFactory.TokenSettings;

    /// <summary>Each way a caller can fail to prove who they are, as the Authorization header it sends.</summary>
    public static TheoryData<string, string?> RejectedCredentials() => new()
    {
        { "missing", null },
        { "not a JWT", "Bearer not-a-jwt" },
        { "another scheme", "Basic dXNlcjpwYXNz" },
        { "bearer without a token", "Bearer " },
        { "signed with another key", Bearer(Valid with { Key = Key("another-signing-key-that-is-also-long-enough") }) },
        { "expired beyond the clock skew", Bearer(Valid, now: DateTime.UtcNow.AddHours(-2), lifetime: TimeSpan.FromHours(1)) },
        { "another audience", Bearer(Valid with { Audience = "someone-else" }) },
        { "another issuer", Bearer(Valid with { Issuer = "someone-else" }) },
        { "alg none", "Bearer " + Unsigned(new JsonObject { ["sub"] = Guid.NewGuid().ToString(), ["iss"] = Valid.Issuer, ["aud"] = Valid.Audience, ["exp"] = Expiry() }) },
        { "sub not a UUID", "Bearer " + Signed(new Dictionary<string, object> { ["sub"] = "alice" }) },
        { "no sub", "Bearer " + Signed(new Dictionary<string, object>()) },
        { "no exp", "Bearer " + Signed(new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString() }, withTimes: false) },
        { "HS512 instead of HS256", "Bearer " + Signed(new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString() },
            algorithm: SecurityAlgorithms.HmacSha512, key: Key(new string('k', 64))) },
    };

    [Theory]
    [MemberData(nameof(RejectedCredentials))]
    public async Task Rejected_credentials_answer_401_problem(string why, string? authorization)
    {
        var client = api.AnonymousClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, ProtectedUrl);
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{why}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(401, (int)problem["status"]!);
        Assert.False(string.IsNullOrEmpty((string?)problem["trace_id"]));
    }

    [Fact]
    public async Task A_valid_token_within_the_clock_skew_is_accepted()
    {
        var client = api.AnonymousClient();
        // Expired 10 s ago: inside the 30 s clock skew the service allows.
        client.DefaultRequestHeaders.Authorization = AuthenticationHeaderValue.Parse(
            Bearer(Valid, now: DateTime.UtcNow.AddMinutes(-1), lifetime: TimeSpan.FromSeconds(50)));
        var response = await client.GetAsync(ProtectedUrl, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task An_unknown_route_without_a_token_is_401_not_404()
    {
        // The fallback policy covers every route, so an anonymous caller cannot probe which ones exist.
        var response = await api.AnonymousClient().GetAsync("/api/v1/nothing-here", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Health_metrics_and_the_api_reference_need_no_token()
    {
        var client = api.AnonymousClient();
        foreach (var url in new[] { "/", "/health/live", "/health/ready", "/metrics", "/openapi/v1.json", "/scalar", "/scalar/scalar.js" })
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url, TestContext.Current.CancellationToken)).StatusCode);
    }

    [Theory]
    [InlineData(null, "Auth:SigningKey is not set")]
    [InlineData("", "Auth:SigningKey is not set")]
    [InlineData("only-twenty-one-bytes", "Auth:SigningKey is 21 bytes long; it must be at least 32 bytes")]
    public async Task Production_refuses_to_start_without_a_long_enough_signing_key(string? signingKey, string message)
    {
        await using var production = new ProductionApi(signingKey);
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () => await production.InitializeAsync());
        var cause = failure is ConfigurationException ? failure : failure.InnerException ?? failure;
        Assert.IsType<ConfigurationException>(cause);
        Assert.StartsWith(message, cause.Message);
    }

    /// <summary>The app in the Production environment with the given Auth:SigningKey (null: none at all).</summary>
    private sealed class ProductionApi(string? signingKey) : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
            builder.UseSetting("Auth:SigningKey", signingKey);
        }
    }

    private static string Bearer(Auth.Settings settings, DateTime? now = null, TimeSpan? lifetime = null) =>
        "Bearer " + Auth.IssueToken(settings, Guid.NewGuid(), lifetime ?? TimeSpan.FromHours(1), now);

    private static SymmetricSecurityKey Key(string secret) => new(Encoding.UTF8.GetBytes(secret));

    private static long Expiry() => DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();

    private static string Signed(Dictionary<string, object> claims, bool withTimes = true, string algorithm = SecurityAlgorithms.HmacSha256,
        SymmetricSecurityKey? key = null) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = withTimes }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Valid.Issuer,
            Audience = Valid.Audience,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key ?? Valid.Key, algorithm),
        });

    private static string Unsigned(JsonObject payload) =>
        $"{Base64Url("""{"alg":"none","typ":"JWT"}""")}.{Base64Url(payload.ToJsonString())}.";

    private static string Base64Url(string text) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(text));
}
