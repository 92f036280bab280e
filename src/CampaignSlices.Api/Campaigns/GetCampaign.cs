// Reads one of the caller's campaigns with its ETag; another user's answers 404 exactly as a missing one.
// A read fetches only the row's version when the answer made at that version is still at hand.
using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class GetCampaign
{
    public sealed record Query(Guid CampaignId, Guid UserId) : IQuery<OneOf<Answer, Missing>>;

    /// <summary>The campaign's JSON as answered at <paramref name="Version"/>.</summary>
    public sealed record Answer(byte[] Json, int Version);

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, HttpResponse response, CancellationToken ct)
    {
        var outcome = await sender.Send(new Query(campaignId, user.UserId()), ct);
        return outcome.Match<Results<FileContentHttpResult, ProblemHttpResult>>(
            answer =>
            {
                response.Headers.ETag = ETags.For(answer.Version);
                return TypedResults.File(answer.Json, "application/json; charset=utf-8");
            },
            notFound => notFound.ToProblem());
    }

    public sealed class Handler(NpgsqlDataSource db, Answers answers) : IQueryHandler<Query, OneOf<Answer, Missing>>
    {
        public async ValueTask<OneOf<Answer, Missing>> Handle(Query query, CancellationToken ct)
        {
            // The hot path of every read: one statement, positional parameters (no SQL rewriting), no connection held.
            await using var versionOf = db.CreateCommand(VersionSql);
            versionOf.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = query.CampaignId });
            versionOf.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = query.UserId });
            if (await versionOf.ExecuteScalarAsync(ct) is not int version)
                return CampaignNotFound.For(query.CampaignId);
            if (answers.Find(query.CampaignId, version) is { } kept)
                return kept;
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await CampaignStore.FindAsync(connection, query.CampaignId, query.UserId, ct) is not { } campaign)
                return CampaignNotFound.For(query.CampaignId);
            return answers.Keep(campaign);
        }
    }

    /// <summary>
    /// Answers made per campaign, each good while the row's version is the one it was made at (the
    /// version moves with every write). Bounded: when full it starts over.
    /// </summary>
    public sealed class Answers
    {
        private const int Capacity = 4096;
        private readonly ConcurrentDictionary<Guid, Answer> _answers = new();

        public Answer? Find(Guid campaignId, int version) =>
            _answers.TryGetValue(campaignId, out var answer) && answer.Version == version ? answer : null;

        public Answer Keep(Campaign campaign)
        {
            if (_answers.Count >= Capacity)
                _answers.Clear();
            var answer = new Answer(JsonSerializer.SerializeToUtf8Bytes(campaign, Json.Options), campaign.Version);
            _answers[campaign.CampaignId] = answer;
            return answer;
        }
    }

    private const string VersionSql = "select version from campaigns where campaign_id = $1 and user_id = $2";
}
