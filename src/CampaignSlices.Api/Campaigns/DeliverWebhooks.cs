// Sends the due webhook deliveries of the outbox in the Standard Webhooks form, signed with the campaign owner's secret;
// failures that a retry can mend are retried with exponential backoff, the others are given up at once. Every attempt is recorded.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CampaignSlices.Api.Webhooks;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class DeliverWebhooks
{
    public const string HttpClientName = "webhooks";

    public sealed record Settings(int MaxAttempts, TimeSpan InitialDelay, TimeSpan Timeout, int BatchSize, TimeSpan PollInterval)
    {
        public static Settings Read(IConfiguration configuration)
        {
            var section = configuration.GetSection("Webhooks");
            return new Settings(
                section.GetValue("MaxAttempts", 8),
                section.GetValue("InitialDelay", TimeSpan.FromSeconds(5)),
                section.GetValue("Timeout", TimeSpan.FromSeconds(10)),
                section.GetValue("BatchSize", 20),
                section.GetValue("PollInterval", TimeSpan.FromSeconds(2)));
        }
    }

    /// <summary>What one attempt came to: the answer's status when there was one, an error unless delivered, and whether trying again can help.</summary>
    public sealed record Attempt(int? ResponseStatus, string? Error, bool Retryable)
    {
        public static Attempt ForStatus(int status) =>
            status is >= 200 and < 300 ? new(status, null, false)
            : status is >= 300 and < 400 ? new(status, $"HTTP {status}: redirects are not followed", false)
            : new(status, $"HTTP {status}", status is >= 500 or 408 or 429);
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, IHttpClientFactory http, WebhookSecrets secrets, Settings settings, ILogger<Handler> logger)
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
            var startedAt = clock.GetUtcNow();
            var started = Stopwatch.GetTimestamp();
            var result = await AttemptAsync(delivery, startedAt, ct);
            var elapsed = Stopwatch.GetElapsedTime(started);

            var now = clock.GetUtcNow();
            var status = result.Error is null ? "delivered" : result.Retryable && attempt < settings.MaxAttempts ? "pending" : "dead";
            var retryAt = now + settings.InitialDelay * Math.Pow(2, attempt - 1);
            // Recorded even when the job is stopping mid-send, so that the attempt counts.
            await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync(new CommandDefinition(ResultSql, new
            {
                delivery.DeliveryId,
                attempt,
                startedAt,
                durationMs = (int)Math.Ceiling(elapsed.TotalMilliseconds),
                result.ResponseStatus,
                result.Error,
                status,
                retryAt,
                now,
            }, cancellationToken: CancellationToken.None));
            if (result.Error is null)
                logger.LogInformation("Webhook {DeliveryId} for campaign {CampaignId} delivered on attempt {Attempt}", delivery.DeliveryId, delivery.CampaignId, attempt);
            else if (status == "dead")
                logger.LogError("Webhook {DeliveryId} for campaign {CampaignId} failed on attempt {Attempt} ({Error}); giving up", delivery.DeliveryId, delivery.CampaignId, attempt, result.Error);
            else
                logger.LogWarning("Webhook {DeliveryId} for campaign {CampaignId} failed on attempt {Attempt} ({Error}); retrying at {RetryAt}",
                    delivery.DeliveryId, delivery.CampaignId, attempt, result.Error, retryAt);
        }

        /// <summary>One POST. Whatever it throws is an outcome of the attempt, so that no failure escapes being counted.</summary>
        private async Task<Attempt> AttemptAsync(Delivery delivery, DateTimeOffset now, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(settings.Timeout);
            try
            {
                var signWith = (await secrets.GetOrCreateAsync(delivery.UserId, timeout.Token)).SigningSecrets(now);
                var id = delivery.DeliveryId.ToString();
                var timestamp = now.ToUnixTimeSeconds();
                using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
                {
                    Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add(WebhookSignature.IdHeader, id);
                request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
                request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(id, timestamp, delivery.Payload, signWith));
                // Only the status matters: the body is never read, however large.
                using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                return Attempt.ForStatus((int)response.StatusCode);
            }
            catch (Exception e) when (Refusal(e) is { } refused)
            {
                return new Attempt(null, $"refused: {refused.Message}", Retryable: false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return new Attempt(null, $"no answer within {settings.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s", Retryable: true);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return new Attempt(null, "interrupted: the service was stopping", Retryable: true);
            }
            catch (Exception e)
            {
                return new Attempt(null, e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message, Retryable: true);
            }
        }

        private static TargetRefusedException? Refusal(Exception? e)
        {
            for (; e is not null; e = e.InnerException)
                if (e is TargetRefusedException refused)
                    return refused;
            return null;
        }
    }

    private sealed record Delivery(Guid DeliveryId, Guid CampaignId, Guid UserId, string Url, string Payload, int Attempts);

    private const string ClaimSql = """
        update webhook_deliveries d
        set next_attempt_at = @leaseUntil
        from campaigns c
        where c.campaign_id = d.campaign_id and d.delivery_id in (
            select delivery_id from webhook_deliveries
            where status = 'pending' and next_attempt_at <= @now
            order by next_attempt_at
            limit @batch
            for update skip locked)
        returning d.delivery_id, d.campaign_id, c.user_id, d.url, d.payload::text as payload, d.attempts
        """;

    private const string ResultSql = """
        with recorded as (
            insert into webhook_delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, response_status, error, delivery_status)
            values (@DeliveryId, @attempt, @startedAt, @durationMs, @ResponseStatus, @Error, @status)
        )
        update webhook_deliveries
        set attempts = @attempt, status = @status, last_error = @Error,
            next_attempt_at = case when @status = 'pending' then @retryAt else next_attempt_at end,
            delivered_at = case when @status = 'delivered' then @now end
        where delivery_id = @DeliveryId
        """;
}
