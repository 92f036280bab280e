// Sends the due webhook deliveries of the outbox: signed JSON POSTs, retried with exponential backoff, dead after the last attempt.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class DeliverWebhooks
{
    /// <summary>`t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{body}"}` under Webhooks:SigningSecret.</summary>
    public const string SignatureHeader = "X-Campaign-Signature";
    public const string DeliveryHeader = "X-Campaign-Delivery";
    public const string HttpClientName = "webhooks";

    public sealed record Settings(byte[] Secret, int MaxAttempts, TimeSpan InitialDelay, TimeSpan Timeout, int BatchSize, TimeSpan PollInterval)
    {
        public static Settings Read(IConfiguration configuration, IHostEnvironment environment)
        {
            var section = configuration.GetSection("Webhooks");
            var secret = section["SigningSecret"] is { Length: > 0 } configured ? configured
                : environment.IsDevelopment() ? LocalData.Secret(configuration, environment, "webhook-secret")
                : throw new ConfigurationException("Webhooks:SigningSecret is not set. Give the service the secret webhook signatures are made with (e.g. the Webhooks__SigningSecret environment variable).");
            return new Settings(Encoding.UTF8.GetBytes(secret),
                section.GetValue("MaxAttempts", 8),
                section.GetValue("InitialDelay", TimeSpan.FromSeconds(5)),
                section.GetValue("Timeout", TimeSpan.FromSeconds(10)),
                section.GetValue("BatchSize", 20),
                section.GetValue("PollInterval", TimeSpan.FromSeconds(2)));
        }
    }

    public static string Sign(byte[] secret, long timestamp, string body) =>
        $"t={timestamp},v1={Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{timestamp}.{body}")))}";

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, IHttpClientFactory http, Settings settings, ILogger<Handler> logger)
    {
        /// <summary>Sends what is due, a batch at a time; returns how many were attempted.</summary>
        public async Task<int> DeliverDueAsync(CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            List<Delivery> due;
            await using (var connection = await db.OpenConnectionAsync(ct))
            {
                // The lease (next_attempt_at pushed past the send's timeout) keeps other replicas off these rows meanwhile.
                due = (await connection.QueryAsync<Delivery>(new CommandDefinition(ClaimSql,
                    new { now, leaseUntil = now + settings.Timeout * 2, batch = settings.BatchSize }, cancellationToken: ct))).ToList();
            }
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
                async (delivery, token) => await SendAsync(delivery, token));
            return due.Count;
        }

        private async Task SendAsync(Delivery delivery, CancellationToken ct)
        {
            var attempt = delivery.Attempts + 1;
            string? error;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
                {
                    Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add(SignatureHeader, Sign(settings.Secret, clock.GetUtcNow().ToUnixTimeSeconds(), delivery.Payload));
                request.Headers.Add(DeliveryHeader, delivery.DeliveryId.ToString());
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(settings.Timeout);
                using var response = await http.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
                error = response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                error = e is TaskCanceledException ? $"no answer within {settings.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s" : e.Message;
            }

            var now = clock.GetUtcNow();
            var dead = error is not null && attempt >= settings.MaxAttempts;
            var retryAt = now + settings.InitialDelay * Math.Pow(2, attempt - 1);
            await using var connection = await db.OpenConnectionAsync(ct);
            await connection.ExecuteAsync(new CommandDefinition(ResultSql, new
            {
                delivery.DeliveryId,
                attempt,
                status = error is null ? "delivered" : dead ? "dead" : "pending",
                error,
                retryAt,
                now,
            }, cancellationToken: ct));
            if (error is null)
                logger.LogInformation("Webhook {DeliveryId} for campaign {CampaignId} delivered on attempt {Attempt}", delivery.DeliveryId, delivery.CampaignId, attempt);
            else if (dead)
                logger.LogError("Webhook {DeliveryId} for campaign {CampaignId} failed on attempt {Attempt} ({Error}); giving up", delivery.DeliveryId, delivery.CampaignId, attempt, error);
            else
                logger.LogWarning("Webhook {DeliveryId} for campaign {CampaignId} failed on attempt {Attempt} ({Error}); retrying at {RetryAt}",
                    delivery.DeliveryId, delivery.CampaignId, attempt, error, retryAt);
        }
    }

    private sealed record Delivery(Guid DeliveryId, Guid CampaignId, string Url, string Payload, int Attempts);

    private const string ClaimSql = """
        update webhook_deliveries d
        set next_attempt_at = @leaseUntil
        where d.delivery_id in (
            select delivery_id from webhook_deliveries
            where status = 'pending' and next_attempt_at <= @now
            order by next_attempt_at
            limit @batch
            for update skip locked)
        returning d.delivery_id, d.campaign_id, d.url, d.payload::text as payload, d.attempts
        """;

    private const string ResultSql = """
        update webhook_deliveries
        set attempts = @attempt, status = @status, last_error = @error,
            next_attempt_at = case when @status = 'pending' then @retryAt else next_attempt_at end,
            delivered_at = case when @status = 'delivered' then @now end
        where delivery_id = @DeliveryId
        """;
}
