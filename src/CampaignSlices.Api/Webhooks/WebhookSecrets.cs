// Each user's webhook signing secret: made on first use, stored encrypted, the previous one kept a day after a rotation.
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace CampaignSlices.Api.Webhooks;

public sealed class WebhookSecrets(NpgsqlDataSource db, IDataProtectionProvider protection, TimeProvider clock)
{
    /// <summary>How long deliveries still carry a signature under the secret a rotation replaced.</summary>
    public static readonly TimeSpan RotationOverlap = TimeSpan.FromHours(24);

    // The user's id is part of the purpose, so one user's stored secret cannot be read as another's.
    private readonly IDataProtector _protector = protection.CreateProtector("CampaignSlices.Webhooks.SigningSecret.v1");

    public sealed record Secrets(string Secret, DateTimeOffset CreatedAt, string? Previous, DateTimeOffset? PreviousUntil)
    {
        /// <summary>What a delivery attempted at <paramref name="now"/> is signed with: the current secret, and within a day of a rotation the previous one.</summary>
        public IReadOnlyList<string> SigningSecrets(DateTimeOffset now) => Previous is not null && now < PreviousUntil ? [Secret, Previous] : [Secret];
    }

    /// <summary>
    /// The user's secrets, made now when there are none. Two first uses at once both end up with the
    /// one that was stored first: the insert does nothing on conflict, and the read that follows sees the winner.
    /// </summary>
    public async Task<Secrets> GetOrCreateAsync(Guid userId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        if (await ReadAsync(connection, userId, ct) is { } existing)
            return existing;
        await connection.ExecuteAsync(new CommandDefinition(InsertSql,
            new { userId, secret = Protect(userId, WebhookSignature.NewSecret()), now = clock.GetUtcNow() }, cancellationToken: ct));
        return (await ReadAsync(connection, userId, ct))!;
    }

    public string Protect(Guid userId, string secret) => _protector.CreateProtector(userId.ToString()).Protect(secret);

    public string Unprotect(Guid userId, string stored) => _protector.CreateProtector(userId.ToString()).Unprotect(stored);

    private async Task<Secrets?> ReadAsync(NpgsqlConnection connection, Guid userId, CancellationToken ct) =>
        await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(SelectSql, new { userId }, cancellationToken: ct)) is { } row
            ? new Secrets(Unprotect(userId, row.Secret), Utc(row.CreatedAt),
                row.PreviousSecret is null ? null : Unprotect(userId, row.PreviousSecret), row.PreviousUntil is { } until ? Utc(until) : null)
            : null;

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed record Row(string Secret, DateTime CreatedAt, string? PreviousSecret, DateTime? PreviousUntil);

    private const string SelectSql = "select secret, created_at, previous_secret, previous_until from webhook_secrets where user_id = @userId";

    private const string InsertSql = """
        insert into webhook_secrets (user_id, secret, created_at) values (@userId, @secret, @now)
        on conflict (user_id) do nothing
        """;
}
