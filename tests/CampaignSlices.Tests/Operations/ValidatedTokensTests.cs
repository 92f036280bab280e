using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Tests.Operations;

/// <summary>The cache of validated tokens never outlives a token: its expiry (with the skew) is the entry's.</summary>
public sealed class ValidatedTokensTests
{
    private static readonly DateTime Now = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void A_token_is_served_from_the_cache_until_it_expires_and_not_after()
    {
        var tokens = new Auth.ValidatedTokens();
        var identity = new ClaimsIdentity([new Claim("sub", Guid.NewGuid().ToString())], Auth.Scheme);
        tokens.Add("token", identity, Now.AddMinutes(5));

        Assert.Same(identity, tokens.TryGet("token", Now));
        Assert.Same(identity, tokens.TryGet("token", Now.AddMinutes(5)));
        Assert.Null(tokens.TryGet("token", Now.AddMinutes(5).AddTicks(1)));
        Assert.Null(tokens.TryGet("other-token", Now));
    }

    [Fact]
    public void A_full_cache_starts_over_rather_than_grow()
    {
        var tokens = new Auth.ValidatedTokens();
        var identity = new ClaimsIdentity(Auth.Scheme);
        for (var i = 0; i < 10_001; i++)
            tokens.Add($"token-{i}", identity, Now.AddMinutes(5));

        Assert.Null(tokens.TryGet("token-0", Now));
        Assert.Same(identity, tokens.TryGet("token-10000", Now));
    }
}
