// Lists the caller's campaigns newest first, keyset-paginated, optionally filtered by status and type.
using System.Buffers.Text;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class ListCampaigns
{
    public sealed record Response(List<CampaignResponse> Items, string? NextCursor);

    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        ClaimsPrincipal user, NpgsqlDataSource db, CancellationToken ct,
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

        await using var connection = await db.OpenConnectionAsync(ct);
        var bodies = (await connection.QueryAsync<string>(new CommandDefinition(Sql, new
        {
            userId = user.UserId(),
            status = statusFilter?.ToWire(),
            type = typeFilter?.ToWire(),
            afterCreatedAt = after?.CreatedAt,
            afterId = after?.CampaignId,
            take = pageSize + 1,
        }, cancellationToken: ct))).ToList();

        var items = bodies.Take(pageSize).Select(body => JsonSerializer.Deserialize<CampaignResponse>(body, Json.StoredOptions)!).ToList();
        var next = bodies.Count > pageSize ? new Cursor(items[^1].CreatedAt, items[^1].CampaignId).ToString() : null;
        return TypedResults.Ok(new Response(items, next));
    }

    private static T? ParseEnum<T>(string? value, string name, Dictionary<string, string[]> errors) where T : struct, Enum
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

    private const string Sql = """
        select (to_jsonb(c) - 'version')::text
        from campaigns c
        where c.user_id = @userId
          and (@status::text is null or c.status = @status)
          and (@type::text is null or c.type = @type)
          and (@afterCreatedAt::timestamptz is null or (c.created_at, c.campaign_id) < (@afterCreatedAt, @afterId))
        order by c.created_at desc, c.campaign_id desc
        limit @take
        """;
}
