// Extends a lease that is still held, so a long action is not offered to another worker.
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public static class HeartbeatAction
{
    [RequiredProperties("lease_token")]
    public sealed record Request
    {
        public Guid? LeaseToken { get; init; }
        public int? LeaseSeconds { get; init; }
    }

    public sealed record Response(Guid ActionId, DateTimeOffset LeaseExpiresAt) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "action_id", "lease_expires_at" };
    }

    public sealed record Command(Guid ActionId, Guid? LeaseToken, int? LeaseSeconds)
        : ICommand<OneOf<Response, Invalid, Missing, LeaseLost>>, IValidatedRequest<OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public OneOf<Response, Invalid, Missing, LeaseLost> Reject(Invalid invalid) => invalid with { Detail = "The heartbeat is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint([FromRoute(Name = "action_id")] Guid actionId, HttpRequest request,
        ISender sender, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        return (await sender.Send(new Command(actionId, parsed.Value.LeaseToken, parsed.Value.LeaseSeconds), ct))
            .Match<Results<Ok<Response>, ProblemHttpResult>>(
                extended => TypedResults.Ok(extended), invalid => invalid.ToProblem(), missing => missing.ToProblem(), lost => lost.ToProblem());
    }

    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.LeaseToken).NotNull().WithMessage("lease_token is required: the token the lease answered.");
            RuleFor(command => command.LeaseSeconds).InclusiveBetween(LeaseActions.MinLeaseSeconds, LeaseActions.MaxLeaseSeconds)
                .WithMessage($"lease_seconds must be between {LeaseActions.MinLeaseSeconds} and {LeaseActions.MaxLeaseSeconds}.");
        }
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : ICommandHandler<Command, OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public async ValueTask<OneOf<Response, Invalid, Missing, LeaseLost>> Handle(Command command, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(ct);
            var expires = await connection.QuerySingleOrDefaultAsync<DateTimeOffset?>(new CommandDefinition(ExtendSql, new
            {
                id = command.ActionId, token = command.LeaseToken, now,
                expires = now.AddSeconds(command.LeaseSeconds ?? LeaseActions.DefaultLeaseSeconds),
            }, cancellationToken: ct));
            if (expires is { } extended)
                return new Response(command.ActionId, extended);
            var state = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(StateSql, new { id = command.ActionId }, cancellationToken: ct));
            return state is null
                ? new Missing("Action", command.ActionId)
                : LeaseLost.NotHeld;
        }
    }

    // A token is good until its lease_expires_at; after that the action may already be another worker's. The lead's
    // due time follows the lease, so a shortened lease is offered again at its new end.
    private const string ExtendSql = """
        with extended as (
            update actions set lease_expires_at = @expires
            where action_id = @id and state = 'leased' and lease_token = @token and lease_expires_at > @now
            returning campaign_id, row_number, lease_expires_at
        ),
        followed as (
            update leads l set next_action_at = e.lease_expires_at
            from extended e
            where l.campaign_id = e.campaign_id and l.row_number = e.row_number and l.open_action_id = @id
        )
        select lease_expires_at from extended
        """;

    private const string StateSql = "select state from actions where action_id = @id";
}
