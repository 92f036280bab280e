// Lists one of the caller's campaigns' leads by row number, keyset-paginated, optionally of one status.
using System.Buffers.Text;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class ListLeads
{
    public sealed record Response(List<Lead> Items, string? NextCursor) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "items" };
    }

    public sealed record Query(Guid CampaignId, Guid UserId, LeadStatus? Status, int Limit, int AfterRow) : IQuery<OneOf<Response, Missing>>;

    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, CancellationToken ct,
        [FromQuery] string? status = null, [FromQuery] string? limit = null, [FromQuery] string? cursor = null)
    {
        var errors = new Dictionary<string, string[]>();
        var statusFilter = ListCampaigns.ParseEnum<LeadStatus>(status, "status", errors);
        var pageSize = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxLimit))
            errors["limit"] = [$"Must be a whole number from 1 to {MaxLimit}."];
        var afterRow = 0;
        if (cursor is not null && !Cursor.TryParse(cursor, out afterRow))
            errors["cursor"] = ["Not a cursor this service made; pass next_cursor from the previous page as it is."];
        if (errors.Count > 0)
            return Problems.Invalid("The lead list query is invalid.", errors);
        return (await sender.Send(new Query(campaignId, user.UserId(), statusFilter, pageSize, afterRow), ct))
            .Match<Results<Ok<Response>, ProblemHttpResult>>(page => TypedResults.Ok(page), notFound => notFound.ToProblem());
    }

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, OneOf<Response, Missing>>
    {
        public async ValueTask<OneOf<Response, Missing>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await LeadReads.OwnedTypeAsync(connection, query.CampaignId, query.UserId, ct) is not { } type)
                return CampaignNotFound.For(query.CampaignId);
            var rows = await connection.QueryAsync<LeadReads.Row>(new CommandDefinition(query.Status is null ? AllSql : OfStatusSql, new
            {
                query.CampaignId,
                status = query.Status?.ToWire(),
                query.AfterRow,
                take = query.Limit + 1,
                SenderFromActions = LeadReads.SenderFromActions(type),
            }, cancellationToken: ct));
            var page = rows.Select(row => row.To<Lead>()).ToList();
            var items = page.Take(query.Limit).ToList();
            return new Response(items, page.Count > query.Limit ? Cursor.After(items[^1].RowNumber) : null);
        }
    }

    /// <summary>The row number of the last item of a page, opaque to clients.</summary>
    private static class Cursor
    {
        private const string Prefix = "lead:";

        public static string After(int rowNumber) =>
            Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Prefix + rowNumber.ToString(CultureInfo.InvariantCulture)));

        public static bool TryParse(string text, out int rowNumber)
        {
            rowNumber = 0;
            if (text.Length is 0 or > 100)
                return false;
            byte[] bytes;
            try
            {
                bytes = Base64Url.DecodeFromChars(text);
            }
            catch (FormatException)
            {
                return false;
            }
            var decoded = Encoding.UTF8.GetString(bytes);
            return decoded.StartsWith(Prefix, StringComparison.Ordinal)
                && int.TryParse(decoded.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out rowNumber) && rowNumber >= 1;
        }
    }

    // Both page along the primary key. A status filter has no index of its own: every lead update of the dispatcher
    // would pay for one, and a page of a rare status walks at most the campaign's leads (a million in well under a second).
    private const string AllSql = $"""
        select {LeadReads.Columns}
        from leads l
        where l.campaign_id = @CampaignId and l.row_number > @AfterRow
        order by l.row_number
        limit @take
        """;

    private const string OfStatusSql = $"""
        select {LeadReads.Columns}
        from leads l
        where l.campaign_id = @CampaignId and l.status = @status and l.row_number > @AfterRow
        order by l.row_number
        limit @take
        """;
}
