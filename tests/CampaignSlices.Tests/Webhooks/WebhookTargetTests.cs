using System.Net;
using System.Text.Json.Nodes;
using CampaignSlices.Api.Webhooks;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Webhooks.WebhookFixtures;

namespace CampaignSlices.Tests.Webhooks;

/// <summary>Private networks refused, as outside Development; deliveries polled quickly.</summary>
public sealed class PrivateNetworksRefusedFactory : ApiFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Webhooks:AllowPrivateNetworks"] = "false",
        ["Webhooks:PollInterval"] = "00:00:00.2",
        ["Webhooks:InitialDelay"] = "00:00:00.2",
        ["Webhooks:MaxAttempts"] = "3",
    };
}

/// <summary>
/// No webhook into a private network. Refused addresses are only ever checked, never connected to:
/// the refusal comes before any connection, and "public" addresses are only classified.
/// </summary>
public sealed class WebhookTargetTests(PrivateNetworksRefusedFactory api) : IClassFixture<PrivateNetworksRefusedFactory>
{
    public static readonly TheoryData<string, string> RefusedAddresses = new()
    {
        { "127.0.0.1", "loopback" }, { "127.255.255.254", "loopback" },
        { "10.0.0.1", "private" }, { "10.255.255.255", "private" },
        { "172.16.0.1", "private" }, { "172.31.255.254", "private" },
        { "192.168.0.1", "private" }, { "192.168.255.255", "private" },
        { "169.254.169.254", "link-local" }, { "169.254.0.1", "link-local" },
        { "100.64.0.1", "shared" }, { "100.127.255.254", "shared" },
        { "224.0.0.1", "multicast" }, { "239.255.255.250", "multicast" },
        { "0.0.0.0", "unspecified" }, { "255.255.255.255", "reserved" },
        { "::1", "loopback" }, { "::", "unspecified" },
        { "fc00::1", "private" }, { "fdff:ffff::1", "private" },
        { "fe80::1", "link-local" }, { "febf::1", "link-local" },
        { "ff02::1", "multicast" }, { "ff0e::1", "multicast" },
        { "::ffff:127.0.0.1", "loopback" }, { "::ffff:10.1.2.3", "private" }, { "::ffff:172.16.0.1", "private" },
        { "::ffff:192.168.1.1", "private" }, { "::ffff:169.254.169.254", "link-local" }, { "::ffff:100.64.0.1", "shared" },
        { "::ffff:224.0.0.1", "multicast" }, { "::ffff:0.0.0.0", "unspecified" },
        { "64:ff9b::a00:1", "private" },
    };

    public static readonly TheoryData<string> AllowedAddresses = new()
    {
        "93.184.216.34", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "169.255.0.0",
        "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "223.255.255.255", "1.0.0.0",
        "2606:2800:220:1:248:1893:25c8:1946", "2001:4860:4860::8888", "fbff::1", "fe7f::1", "::ffff:93.184.216.34", "64:ff9b::5db8:d822",
    };

    public static TheoryData<string> RefusedUrls()
    {
        var urls = new TheoryData<string>();
        foreach (var address in RefusedAddresses)
            urls.Add(UrlOf(address.Data.Item1));
        // Other spellings of 127.0.0.1 that URL parsing turns into it.
        urls.Add("http://2130706433/hook");
        urls.Add("http://0x7f.1/hook");
        urls.Add("https://127.1:8443/hook");
        urls.Add("http://[0:0:0:0:0:ffff:7f00:1]/hook");
        return urls;
    }

    private static string UrlOf(string address) => IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"http://[{address}]:8080/hook" : $"http://{address}:8080/hook";

    [Theory]
    [MemberData(nameof(RefusedAddresses))]
    public void Addresses_of_private_networks_are_refused_with_their_kind(string address, string kind) =>
        Assert.Equal(kind, WebhookTargets.RefusedKind(IPAddress.Parse(address)));

    [Theory]
    [MemberData(nameof(AllowedAddresses))]
    public void Public_addresses_are_allowed(string address) =>
        Assert.Null(WebhookTargets.RefusedKind(IPAddress.Parse(address)));

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task A_webhook_url_whose_host_is_a_refused_ip_literal_is_400_at_create(string url)
    {
        var user = Guid.NewGuid();
        var body = Email(await SeedDatasetAsync(api, user)).With("webhook_config", new JsonObject { ["url"] = url });

        var (status, problem) = await SendAsync(api.ClientFor(user), HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal(["webhook_config.url"], ErrorKeys(problem));
        Assert.Contains("private networks", (string)problem["errors"]!["webhook_config.url"]![0]!);
    }

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task A_webhook_url_whose_host_is_a_refused_ip_literal_is_400_at_patch(string url)
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var id = (string)(await CreateAsync(client, Email(await SeedDatasetAsync(api, user))))["campaign_id"]!;

        var (status, problem) = await SendAsync(client, HttpMethod.Patch, $"/api/v1/campaigns/{id}",
            new JsonObject { ["webhook_config"] = new JsonObject { ["url"] = url } });

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal(["webhook_config.url"], ErrorKeys(problem));
        var (_, campaign) = await SendAsync(client, HttpMethod.Get, $"/api/v1/campaigns/{id}");
        Assert.Null(campaign["webhook_config"]);
    }

    [Fact]
    public async Task Host_names_and_public_ip_literals_are_accepted_at_create()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var dataset = await SeedDatasetAsync(api, user);
        foreach (var url in new[] { "https://hooks.example.com/x", "http://localhost:9/hook", "https://93.184.216.34/hook", "https://[2606:2800:220:1:248:1893:25c8:1946]/hook" })
            await CreateAsync(client, Email(dataset).With("webhook_config", new JsonObject { ["url"] = url }));
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_is_refused_when_delivering_and_not_tried_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, _, id) = await LaunchedCampaignAsync(api, receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal));

        var deliveries = await WaitForSettledAsync(api, id);
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);

        Assert.All(await DeliveriesAsync(api, id), d => Assert.Equal(("dead", 1), (d.Status, d.Attempts)));
        Assert.All(deliveries, d => Assert.StartsWith("refused: localhost resolves only to addresses in private networks", d.LastError));
        Assert.All(await AttemptsAsync(api, id), a => Assert.Equal((1, null, "dead"), (a.Attempt, a.ResponseStatus, a.DeliveryStatus)));
        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task Every_refused_ip_literal_is_refused_when_delivering_before_any_connection()
    {
        // Stored past validation (as when the setting was different when the URL was set): only the delivery's own check stands.
        var urls = RefusedUrls().Select(row => row.Data).ToList();
        var (_, _, id) = await LaunchableCampaignAsync(api, "http://localhost:9/hook");
        await using (var db = await api.OpenDatabaseAsync())
        {
            await db.ExecuteAsync("""
                insert into campaign_events (event_id, campaign_id, type, from_status, to_status, actor, details, created_at)
                values (gen_random_uuid(), @id, 'paused', 'active', 'paused', 'user', '{}', now())
                """, new { id = Guid.Parse(id) });
            foreach (var url in urls)
                await db.ExecuteAsync("""
                    insert into webhook_deliveries (delivery_id, event_id, campaign_id, url, payload, next_attempt_at, created_at)
                    select gen_random_uuid(), event_id, campaign_id, @url, '{}', now(), now() from campaign_events where campaign_id = @id
                    """, new { id = Guid.Parse(id), url });
        }

        var deliveries = await WaitForSettledAsync(api, id, urls.Count);

        Assert.All(deliveries, d => Assert.Equal(("dead", 1), (d.Status, d.Attempts)));
        Assert.All(deliveries, d => Assert.Matches(@"^refused: .* resolves only to addresses in private networks \(.+ (loopback|private|link-local|shared|multicast|unspecified|reserved)\)\.$", d.LastError));
        Assert.Equal(urls.Count, (await AttemptsAsync(api, id)).Count);
    }
}
