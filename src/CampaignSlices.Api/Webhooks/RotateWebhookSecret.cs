// Replaces the caller's webhook signing secret; deliveries carry signatures under both for a day after.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Webhooks;

public static class RotateWebhookSecret
{
    // No expected failure: a user without a secret simply gets a first one.
    public sealed record Command(Guid UserId) : ICommand<OneOf<WebhookSecret>>;

    public static async Task<Ok<WebhookSecret>> Endpoint(ClaimsPrincipal user, ISender sender, CancellationToken ct) =>
        (await sender.Send(new Command(user.UserId()), ct)).Match(secret => TypedResults.Ok(secret));

    public sealed class Handler(NpgsqlDataSource db, WebhookSecrets secrets, TimeProvider clock) : ICommandHandler<Command, OneOf<WebhookSecret>>
    {
        public async ValueTask<OneOf<WebhookSecret>> Handle(Command command, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            var secret = WebhookSignature.NewSecret();
            await using var connection = await db.OpenConnectionAsync(ct);
            await connection.ExecuteAsync(new CommandDefinition(RotateSql, new
            {
                command.UserId,
                secret = secrets.Protect(command.UserId, secret),
                now,
                previousUntil = now + WebhookSecrets.RotationOverlap,
            }, cancellationToken: ct));
            return new WebhookSecret(secret, now);
        }
    }

    // One statement: two rotations at once queue on the row, and the second keeps the first's secret as the previous one.
    private const string RotateSql = """
        insert into webhook_secrets as s (user_id, secret, created_at) values (@UserId, @secret, @now)
        on conflict (user_id) do update
        set previous_secret = s.secret, previous_until = @previousUntil, secret = excluded.secret, created_at = excluded.created_at
        """;
}
