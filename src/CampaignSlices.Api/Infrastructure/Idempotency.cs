using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Idempotency-Key for every POST of a group that opts in (docs/api.md): the same key and body replay the
/// first answer, another body is 422, a request still running is 409. Keys are per caller (user or channel worker), kept 24 h.
/// </summary>
public static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxKeyLength = 255;
    private static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    // A claim never completed this long (its replica died mid-request) may be taken by a retry.
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromMinutes(5);
    private static readonly string[] ReplayedHeaders = ["Location", "ETag", "Content-Type"];

    /// <summary>Endpoint metadata: this endpoint honours Idempotency-Key (the OpenAPI document declares it too).</summary>
    internal sealed class Supported;

    /// <summary>Endpoint metadata: the answer holds a secret, so the copy kept for replays is stored encrypted.</summary>
    internal sealed class SecretAnswer;

    /// <summary>Makes the POST endpoints of <paramref name="group"/> honour Idempotency-Key.</summary>
    public static RouteGroupBuilder WithIdempotencyKeys(this RouteGroupBuilder group) => group.WithMetadata(new Supported());

    /// <summary>The endpoint answers a secret: its replay copy is kept encrypted with the key ring, never in the clear.</summary>
    public static RouteHandlerBuilder WithSecretAnswer(this RouteHandlerBuilder endpoint) => endpoint.WithMetadata(new SecretAnswer());

    public static void UseIdempotencyKeys(this WebApplication app) => app.UseMiddleware<Middleware>();

    private sealed class Middleware(RequestDelegate next, NpgsqlDataSource db, TimeProvider clock, IDataProtectionProvider protection, ILogger<Middleware> logger)
    {
        private readonly IDataProtector _answers = protection.CreateProtector("CampaignSlices.Idempotency.SecretAnswer.v1");

        public async Task InvokeAsync(HttpContext context)
        {
            if (!HttpMethods.IsPost(context.Request.Method)
                || context.GetEndpoint()?.Metadata.GetMetadata<Supported>() is null
                || !context.Request.Headers.TryGetValue(Header, out var values)
                || context.User.Identity?.IsAuthenticated != true)
            {
                await next(context);
                return;
            }
            var key = values.ToString();
            if (values.Count != 1 || key.Length is 0 or > MaxKeyLength)
            {
                await WriteProblemAsync(context, 400, $"{Header} must be one value of 1 to {MaxKeyLength} characters.",
                    new Dictionary<string, string[]> { [Header] = [$"Must be 1 to {MaxKeyLength} characters."] });
                return;
            }

            var userId = context.User.CallerId();
            using var fingerprint = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            fingerprint.AppendData(Encoding.UTF8.GetBytes($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}\n"));
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(context.RequestAborted);
            var claimed = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(ClaimSql,
                new { userId, key, now, expiredBefore = now - Retention, abandonedBefore = now - AbandonedAfter }, cancellationToken: context.RequestAborted));
            if (claimed)
                await RunClaimedAsync(context, connection, userId, key, fingerprint);
            else
                await AnswerFromStoredAsync(context, connection, userId, key, fingerprint);
        }

        private async Task RunClaimedAsync(HttpContext context, NpgsqlConnection connection, Guid userId, string key, IncrementalHash fingerprint)
        {
            var originalBody = context.Response.Body;
            var response = new MemoryStream();
            context.Request.Body = new HashingStream(context.Request.Body, fingerprint);
            context.Response.Body = response;
            try
            {
                await next(context);
                // The fingerprint covers the whole body, read or not by the endpoint.
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch
            {
                context.Response.Body = originalBody;
                await ReleaseAsync(connection, userId, key);
                throw;
            }
            context.Response.Body = originalBody;

            if (context.Response.StatusCode >= 500)
                await ReleaseAsync(connection, userId, key);
            else
            {
                var headers = ReplayedHeaders.Where(name => context.Response.Headers.ContainsKey(name))
                    .ToDictionary(name => name, name => context.Response.Headers[name].ToString());
                await connection.ExecuteAsync(CompleteSql, new
                {
                    userId, key, hash = fingerprint.GetHashAndReset(), status = context.Response.StatusCode,
                    headers = JsonSerializer.Serialize(headers), body = Secret(context) ? _answers.Protect(response.ToArray()) : response.ToArray(),
                    now = clock.GetUtcNow(),
                });
            }
            response.Position = 0;
            await response.CopyToAsync(originalBody, context.RequestAborted);
        }

        private async Task AnswerFromStoredAsync(HttpContext context, NpgsqlConnection connection, Guid userId, string key, IncrementalHash fingerprint)
        {
            var stored = await connection.QuerySingleOrDefaultAsync<StoredResponse>(StoredSql, new { userId, key });
            if (stored?.StatusCode is not int status)
            {
                await WriteProblemAsync(context, 409, "A request with this Idempotency-Key is still in progress; retry after it completes.");
                return;
            }
            await new HashingStream(context.Request.Body, fingerprint).CopyToAsync(Stream.Null, context.RequestAborted);
            if (!fingerprint.GetHashAndReset().AsSpan().SequenceEqual(stored.RequestHash))
            {
                await WriteProblemAsync(context, 422, "This Idempotency-Key was used with a different request; use a new key for a new request.");
                return;
            }
            logger.LogInformation("Replaying the response stored for Idempotency-Key {Key}", key);
            context.Response.StatusCode = status;
            foreach (var (name, value) in JsonSerializer.Deserialize<Dictionary<string, string>>(stored.ResponseHeaders!)!)
                context.Response.Headers[name] = value;
            context.Response.Headers[ReplayedHeader] = "true";
            await context.Response.Body.WriteAsync(Secret(context) ? _answers.Unprotect(stored.ResponseBody) : stored.ResponseBody, context.RequestAborted);
        }

        private static bool Secret(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<SecretAnswer>() is not null;

        private static Task ReleaseAsync(NpgsqlConnection connection, Guid userId, string key) =>
            connection.ExecuteAsync("delete from idempotency_keys where user_id = @userId and key = @key and status_code is null", new { userId, key });

        private static async Task WriteProblemAsync(HttpContext context, int status, string detail, IDictionary<string, string[]>? errors = null)
        {
            var result = status switch
            {
                400 => Problems.Invalid(detail, errors!),
                409 => Problems.Conflict(detail),
                _ => Problems.Unprocessable(detail),
            };
            await result.ExecuteAsync(context);
        }

        private sealed record StoredResponse(int? StatusCode, byte[]? RequestHash, string? ResponseHeaders, byte[] ResponseBody);

        // Claimed when new, or when the old claim expired or was abandoned; a live claim is left alone.
        private const string ClaimSql = """
            insert into idempotency_keys as k (user_id, key, created_at) values (@userId, @key, @now)
            on conflict (user_id, key) do update
                set created_at = excluded.created_at, request_hash = null, status_code = null,
                    response_headers = null, response_body = null, completed_at = null
                where k.created_at < @expiredBefore or (k.completed_at is null and k.created_at < @abandonedBefore)
            returning true
            """;

        private const string CompleteSql = """
            update idempotency_keys
            set request_hash = @hash, status_code = @status, response_headers = cast(@headers as jsonb),
                response_body = @body, completed_at = @now
            where user_id = @userId and key = @key
            """;

        private const string StoredSql = """
            select status_code, request_hash, response_headers::text as response_headers, response_body
            from idempotency_keys where user_id = @userId and key = @key
            """;
    }

    /// <summary>Feeds every byte read from the request body into the request's fingerprint.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var read = await inner.ReadAsync(buffer, ct);
            hash.AppendData(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            hash.AppendData(buffer, offset, read);
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
