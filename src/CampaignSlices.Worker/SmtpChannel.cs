// Sends email leases through an SMTP server, over one connection kept while it works. A recipient the server refuses for
// good (5xx on RCPT) is a bounce; a server that cannot be reached, or answers "try later" (4xx), gives the action back;
// any other refusal fails it.
using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace CampaignSlices.Worker;

public sealed class SmtpChannel(SmtpServer server, string fromDomain) : IChannel
{
    /// <summary>How long one SMTP command may take before the connection counts as broken.</summary>
    private const int CommandTimeoutMilliseconds = 30_000;

    private readonly SmtpClient _client = new() { Timeout = CommandTimeoutMilliseconds };

    public async Task<Performance> PerformAsync(Lease lease, CancellationToken ct)
    {
        var (message, problem) = EmailMessage.Build(lease, fromDomain);
        if (message is null)
            return Performance.Failed(problem!);
        try
        {
            if (!_client.IsConnected)
                await _client.ConnectAsync(server.Host, server.Port, SecureSocketOptions.StartTlsWhenAvailable, ct);
            return Performance.Sent(await _client.SendAsync(message, ct));
        }
        catch (SmtpCommandException refused)
        {
            var code = (int)refused.StatusCode;
            var detail = $"{code} {refused.Message}";
            if (code is >= 400 and < 500)
                return Performance.GiveBack(detail);
            return refused.ErrorCode == SmtpErrorCode.RecipientNotAccepted ? Performance.Bounced(detail) : Performance.Failed(detail);
        }
        catch (Exception unreachable) when (unreachable is SocketException or IOException or SmtpProtocolException or ServiceNotConnectedException
            or SslHandshakeException or TimeoutException || (unreachable is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // The connection is in an unknown state: the next action starts a new one.
            await DisconnectAsync();
            return Performance.GiveBack($"the SMTP server {server.Host}:{server.Port} could not be used: {unreachable.Message}");
        }
    }

    private async Task DisconnectAsync()
    {
        try
        {
            await _client.DisconnectAsync(quit: false, CancellationToken.None);
        }
        catch (Exception gone) when (gone is SocketException or IOException or SmtpProtocolException)
        {
            // already closed
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(quit: true, CancellationToken.None);
            }
            catch (Exception gone) when (gone is SocketException or IOException or SmtpProtocolException or TimeoutException)
            {
                // the server went first; nothing is left to close
            }
        }
        _client.Dispose();
    }
}
