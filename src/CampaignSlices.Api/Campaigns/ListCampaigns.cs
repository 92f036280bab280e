// Lists the caller's campaigns newest first, keyset-paginated, optionally filtered by status and type.
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

namespace CampaignSlices.Api.Campaigns;

public static class ListCampaigns
{
    public sealed record Response(List<Campaign> Items, string? NextCursor);

    public sealed record Query(Guid UserId, CampaignStatus? Status, CampaignType? Type, int Limit, DateTimeOffset? AfterCreatedAt, Guid? AfterId)
        : IQuery<Response>;

    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        ClaimsPrincipal user, ISender sender, CancellationToken ct,
        [FromQuery] string? status = null, [FromQuery] string? type = null,
        [FromQuery] string? limit = null, [FromQuery] string? cursor = null)
    {
        var errors = new Dictionary<string, string[]>();
        var statusFilter = ParseEnum<CampaignStatus>(status, "status", errors);
        var typeFilter = ParseEnum<CampaignType>(type, "type", errors);
        var pageSize = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxLimit))
            errors["limit"] = [$"Must be a whole number from 1 to {MaxLimit}."];
        var after = Cursor.TryParse(cursor, out var parsed) ? parsed : null;
        if (cursor is not null && after is null)
            errors["cursor"] = ["Not a cursor this service made; pass next_cursor from the previous page as it is."];
        if (errors.Count > 0)
            return Problems.Invalid("The list query is invalid.", errors);
        return TypedResults.Ok(await sender.Send(new Query(user.UserId(), statusFilter, typeFilter, pageSize, after?.CreatedAt, after?.CampaignId), ct));
    }

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, Response>
    {
        public async ValueTask<Response> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var page = await CampaignStore.ReadAllAsync(connection, new CommandDefinition(Sql, new
            {
                query.UserId,
                status = query.Status?.ToWire(),
                type = query.Type?.ToWire(),
                query.AfterCreatedAt,
                query.AfterId,
                take = query.Limit + 1,
            }, cancellationToken: ct));
            var items = page.Take(query.Limit).ToList();
            var next = page.Count > query.Limit ? new Cursor(items[^1].CreatedAt, items[^1].CampaignId).ToString() : null;
            return new Response(items, next);
        }
    }

    /// <summary>An enum query parameter in its exact wire spelling; a value that is none of them is an error under its name.</summary>
    internal static T? ParseEnum<T>(string? value, string name, Dictionary<string, string[]> errors) where T : struct, Enum
    {
        if (value is null)
            return null;
        var match = Enum.GetValues<T>().Where(candidate => candidate.ToWire() == value).Select(candidate => (T?)candidate).FirstOrDefault();
        if (match is null)
            errors[name] = ["Must be one of: " + string.Join(", ", Enum.GetValues<T>().Select(candidate => candidate.ToWire())) + "."];
        return match;
    }

    /// <summary>The position after the last item of a page: its created_at (microseconds) and id, opaque to clients.</summary>
    private sealed record Cursor(DateTimeOffset CreatedAt, Guid CampaignId)
    {
        public override string ToString() =>
            Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{(CreatedAt - DateTimeOffset.UnixEpoch).Ticks / 10}:{CampaignId:N}"));

        public static bool TryParse(string? text, out Cursor? cursor)
        {
            cursor = null;
            if (string.IsNullOrEmpty(text) || text.Length > 100)
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
            var parts = Encoding.UTF8.GetString(bytes).Split(':');
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
                || micros > (DateTimeOffset.MaxValue - DateTimeOffset.UnixEpoch).Ticks / 10 || !Guid.TryParseExact(parts[1], "N", out var id))
                return false;
            cursor = new Cursor(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), id);
            return true;
        }
    }

    private static readonly string Sql = $"""
        select {CampaignStore.Columns}
        from campaigns c
        where c.user_id = @UserId
          and (@status::text is null or c.status = @status)
          and (@type::text is null or c.type = @type)
          and (@AfterCreatedAt::timestamptz is null or (c.created_at, c.campaign_id) < (@AfterCreatedAt, @AfterId))
        order by c.created_at desc, c.campaign_id desc
        limit @take
        """;
}
