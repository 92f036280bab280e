using CampaignSlices.Api.Webhooks;
using CampaignSlices.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Webhooks.WebhookFixtures;

namespace CampaignSlices.Tests.Webhooks;

/// <summary>The service's clock moved ahead by the test, deliveries to loopback allowed.</summary>
public sealed class ControlledClockFactory : ApiFactory
{
    public ShiftedClock Clock { get; } = new();

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Webhooks:AllowPrivateNetworks"] = "true",
        ["Webhooks:PollInterval"] = "00:00:00.2",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Clock));
    }
}

/// <summary>
/// The real clock plus an offset the test moves ahead: it keeps running, as the scheduler's repeating
/// triggers (which read the same clock) need, where a frozen fake clock would stop them.
/// </summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}

public sealed class WebhookRotationTests(ControlledClockFactory api) : IClassFixture<ControlledClockFactory>
{
    [Fact]
    public async Task Deliveries_carry_both_signatures_for_24_hours_after_a_rotation_then_only_the_new_one()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, _, id) = await LaunchableCampaignAsync(api, receiver.Url);
        var (previous, _) = await SecretAsync(client);
        var (current, _) = await RotateAsync(client);

        Assert.Equal(202, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/launch")).Status);
        await WaitForStatusAsync(client, id, "active");
        await WaitForAsync(() => Task.FromResult(receiver.Requests.Count >= 2));
        foreach (var request in receiver.Requests)
        {
            Assert.Equal(2, request.Signature!.Split(' ').Length);
            Assert.True(SignedWith(request, current));
            Assert.True(SignedWith(request, previous));
            // The new secret's signature comes first, for libraries that check only the first of several (this one does).
            new StandardWebhook(current).Verify(request.Body, request.Headers);
        }

        api.Clock.Advance(WebhookSecrets.RotationOverlap + TimeSpan.FromSeconds(1));
        Assert.Equal(200, (await SendAsync(client, HttpMethod.Post, $"/api/v1/campaigns/{id}/pause")).Status);
        await WaitForAsync(() => Task.FromResult(receiver.Requests.Count >= 3));

        var late = receiver.Requests.Single(r => r.Body.Contains("campaign.paused", StringComparison.Ordinal));
        Assert.Single(late.Signature!.Split(' '));
        Assert.True(SignedWith(late, current));
        Assert.False(SignedWith(late, previous));
        Assert.InRange(long.Parse(late.Timestamp!), api.Clock.GetUtcNow().AddMinutes(-1).ToUnixTimeSeconds(), api.Clock.GetUtcNow().ToUnixTimeSeconds());
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(previous).Verify(late.Body, late.Headers));
    }

    [Fact]
    public void The_previous_secret_signs_until_24_hours_after_the_rotation_and_not_from_then_on()
    {
        var rotatedAt = new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero);
        var secrets = new WebhookSecrets.Secrets("whsec_new", rotatedAt, "whsec_old", rotatedAt + WebhookSecrets.RotationOverlap);

        Assert.Equal(["whsec_new", "whsec_old"], secrets.SigningSecrets(rotatedAt));
        Assert.Equal(["whsec_new", "whsec_old"], secrets.SigningSecrets(rotatedAt.AddHours(24).AddTicks(-1)));
        Assert.Equal(["whsec_new"], secrets.SigningSecrets(rotatedAt.AddHours(24)));
        Assert.Equal(["whsec_new"], new WebhookSecrets.Secrets("whsec_new", rotatedAt, null, null).SigningSecrets(rotatedAt));
    }

    [Fact]
    public void Signatures_are_those_of_the_standard_webhooks_libraries()
    {
        var secret = WebhookSignature.NewSecret();
        var other = WebhookSignature.NewSecret();
        var at = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        const string body = """{"type":"campaign.paused"}""";

        var header = WebhookSignature.Sign("0190a5b2-0000-7000-8000-000000000001", at.ToUnixTimeSeconds(), body, [secret, other]);

        var signatures = header.Split(' ');
        Assert.Equal(new StandardWebhook(secret).Sign("0190a5b2-0000-7000-8000-000000000001", at, body), signatures[0]);
        Assert.Equal(new StandardWebhook(other).Sign("0190a5b2-0000-7000-8000-000000000001", at, body), signatures[1]);
    }
}
