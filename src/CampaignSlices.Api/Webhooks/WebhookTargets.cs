// Where webhooks may go: never into a private network on a user's behalf, unless the operator allows it.
using System.Net;
using System.Net.Sockets;

namespace CampaignSlices.Api.Webhooks;

/// <summary>
/// The address ranges a webhook is never sent to, the check of a URL's IP literal, and the connect
/// step of the webhook HTTP client: it resolves the host itself and connects only to an address it
/// has checked, so a name that resolves elsewhere on the second lookup (DNS rebinding) cannot pass.
/// </summary>
public sealed class WebhookTargets(bool allowPrivateNetworks)
{
    private static readonly (IPNetwork Network, string Kind)[] Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "shared"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        // Reserved, and 255.255.255.255 (broadcast): never a single host on the internet.
        (IPNetwork.Parse("240.0.0.0/4"), "reserved"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("fc00::/7"), "private"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        // Site-local: deprecated, but still a private network where it is in use.
        (IPNetwork.Parse("fec0::/10"), "private"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    // NAT64's well-known prefix carries an IPv4 address in its last 32 bits, as the mapped form does.
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    /// <summary>What kind of network <paramref name="address"/> is in when it is one webhooks are not sent to ("loopback"), else null.</summary>
    public static string? RefusedKind(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        else if (address.AddressFamily == AddressFamily.InterNetworkV6 && Nat64.Contains(address))
            address = new IPAddress(address.GetAddressBytes()[12..]);
        foreach (var (network, kind) in Refused)
            if (network.Contains(address))
                return kind;
        return null;
    }

    /// <summary>Why <paramref name="url"/> may not be a webhook's URL when its host is an IP literal in a refused range, else null.</summary>
    public string? RefusedLiteral(Uri url)
    {
        if (allowPrivateNetworks || url.HostNameType is not (UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || !IPAddress.TryParse(url.Host, out var address) || RefusedKind(address) is not { } kind)
            return null;
        return $"{address} is a {kind} address; webhooks are not sent into private networks.";
    }

    /// <summary>
    /// The webhook client's handler: redirects are not followed (a 3xx is the answer), no proxy is
    /// used (a proxy would make the connection this check is about), and connections go through
    /// <see cref="ConnectAsync"/>.
    /// </summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectCallback = ConnectAsync,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    };

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = allowPrivateNetworks ? addresses : addresses.Where(address => RefusedKind(address) is null).ToArray();
        if (allowed.Length == 0)
            throw new TargetRefusedException(addresses.Length == 0 ? $"{host} resolves to no address."
                : $"{host} resolves only to addresses in private networks ({string.Join(", ", addresses.Select(a => $"{a} {RefusedKind(a)}"))}).");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>The webhook's host is, or resolves only to, addresses webhooks are not sent to: a delivery not retried.</summary>
public sealed class TargetRefusedException(string message) : Exception(message);
