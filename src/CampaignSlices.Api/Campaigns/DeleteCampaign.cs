// Deletes a draft campaign; any other status keeps its history and answers 409.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;
using OneOf.Types;

namespace CampaignSlices.Api.Campaigns;

public static class DeleteCampaign
{
    public sealed record Command(Guid CampaignId, Guid UserId, ETags.IfMatch? IfMatch) : ICommand<OneOf<Success, WrongStatus, Stale, Missing>>;

    public static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, HttpRequest request, CancellationToken ct) =>
        (await sender.Send(new Command(campaignId, user.UserId(), ETags.Precondition(request)), ct)).Match<Results<NoContent, ProblemHttpResult>>(
            deleted => TypedResults.NoContent(),
            wrong => wrong.ToProblem(),
            stale => stale.ToProblem(),
            notFound => notFound.ToProblem());

    public sealed class Handler(NpgsqlDataSource db) : ICommandHandler<Command, OneOf<Success, WrongStatus, Stale, Missing>>
    {
        public async ValueTask<OneOf<Success, WrongStatus, Stale, Missing>> Handle(Command command, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var deleted = await connection.ExecuteAsync(new CommandDefinition(Sql, new
            {
                command.CampaignId,
                command.UserId,
                deletable = CampaignStatusRules.Deletable.Select(status => status.ToWire()).ToArray(),
                versions = command.IfMatch?.Versions,
            }, cancellationToken: ct));
            if (deleted == 1)
                return new Success();

            // Why not: the status is checked after If-Match, so a stale tag is 412 whatever the status.
            var current = await connection.QuerySingleOrDefaultAsync<(string Status, int Version)?>(new CommandDefinition(
                "select status, version from campaigns where campaign_id = @CampaignId and user_id = @UserId", command, cancellationToken: ct));
            if (current is not var (status, version))
                return CampaignNotFound.For(command.CampaignId);
            if (command.IfMatch is { } precondition && !precondition.Allows(version))
                return new Stale(version);
            return new WrongStatus((CampaignStatus)Json.FromWire(typeof(CampaignStatus), status), $"Only a draft can be deleted; the campaign is {status}.");
        }
    }

    private const string Sql = """
        delete from campaigns
        where campaign_id = @CampaignId and user_id = @UserId and status = any(@deletable)
          and (@versions::integer[] is null or version = any(@versions))
        """;
}
