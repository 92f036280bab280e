// Checks every row of a campaign's dataset against its steps and answers the summary and the first warnings; writes nothing.
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class Preflight
{
    public sealed record Response(LeadRules.Summary Summary, List<LeadRules.Warning> Warnings);

    public const int DefaultWarningsLimit = 100;
    public const int MaxWarningsLimit = 1000;

    public sealed record Query(Guid CampaignId, Guid UserId, int WarningsLimit) : IQuery<OneOf<Response, Missing>>;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, CancellationToken ct,
        [FromQuery(Name = "warnings_limit")] string? warningsLimit = null)
    {
        var limit = DefaultWarningsLimit;
        if (warningsLimit is not null && (!int.TryParse(warningsLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > MaxWarningsLimit))
            return Problems.Invalid("warnings_limit", $"Must be a whole number from 0 to {MaxWarningsLimit}.");
        return (await sender.Send(new Query(campaignId, user.UserId(), limit), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            preflight => TypedResults.Ok(preflight),
            notFound => notFound.ToProblem());
    }

    public sealed class Handler(NpgsqlDataSource db) : IQueryHandler<Query, OneOf<Response, Missing>>
    {
        public async ValueTask<OneOf<Response, Missing>> Handle(Query query, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await CampaignStore.FindAsync(connection, query.CampaignId, query.UserId, ct) is not { } campaign)
                return CampaignNotFound.For(query.CampaignId);
            return await RunAsync(connection, null, campaign, query.WarningsLimit, ct);
        }
    }

    /// <summary>The answer, and when asked for, the row numbers the check blocks (for the launch to reuse).</summary>
    public sealed record Checked(Response Response, int[]? BlockedRows);

    /// <summary>The check itself, one SQL statement.</summary>
    public static async Task<Response> RunAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Campaign campaign, int warningsLimit,
        CancellationToken ct) =>
        (await CheckAsync(connection, transaction, campaign, warningsLimit, keepBlockedRows: false, ct)).Response;

    /// <summary>The check as the launch runs it: the same statement, also collecting the blocked rows when <paramref name="keepBlockedRows"/>.</summary>
    public static async Task<Checked> CheckAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Campaign campaign, int warningsLimit,
        bool keepBlockedRows, CancellationToken ct)
    {
        await using var own = transaction is null ? await connection.BeginTransactionAsync(ct) : null;
        transaction ??= own;
        await connection.ExecuteAsync(new CommandDefinition(LeadRules.SortMemorySql, transaction: transaction, cancellationToken: ct));
        var (checkedRows, parameters, checks) = LeadRules.CheckedRows(campaign);
        parameters.Add("warnings_limit", warningsLimit);
        var result = await connection.QuerySingleAsync<(int TotalRows, int LaunchableRows, int WarningCount, string ByCode, string Warnings, int[]? BlockedRows)>(
            new CommandDefinition(checkedRows + SummarySql(checks, keepBlockedRows), parameters, transaction, commandTimeout: 0, cancellationToken: ct));
        var warnings = JsonSerializer.Deserialize<List<FlatWarning>>(result.Warnings, Json.StoredOptions)!
            .Select(w => new LeadRules.Warning(w.RowNumber, w.Code, w.Field, LeadRules.MessageFor(w.Code, w.Field)))
            .ToList();
        var byCode = JsonSerializer.Deserialize<Dictionary<string, int>>(result.ByCode)!;
        return new Checked(new Response(new LeadRules.Summary(result.TotalRows, result.LaunchableRows, result.WarningCount, byCode), warnings),
            result.BlockedRows);
    }

    private sealed record FlatWarning(int RowNumber, string Code, string Field);

    /// <summary>
    /// One pass counts rows and findings per code; only the first flagged rows (each has at least one
    /// warning, so `warnings_limit` of them hold the first warnings) are unnested into the list.
    /// </summary>
    private static string SummarySql(IReadOnlyList<LeadRules.Check> checks, bool keepBlockedRows)
    {
        var blockedRows = keepBlockedRows ? "coalesce(array_agg(row_number order by row_number) filter (where blocking), '{}')" : "null::integer[]";
        var findingCounts = checks.Count == 0 ? "0" : string.Join(" + ", checks.Select(check => $"count({check.Column})"));
        var codeCounts = checks.SelectMany(check => check.Codes.Select(code => (code, check.Column)))
            .GroupBy(pair => pair.code)
            .Select(group => $"'{group.Key}', " + string.Join(" + ", group.Select(pair => $"count(*) filter (where {pair.Column} like '{group.Key}:%')")));
        var problems = checks.Count == 0 ? "'{}'::text[]" : $"array_remove(array[{string.Join(", ", checks.Select(check => check.Column))}], null)";
        var columns = string.Concat(checks.Select(check => ", " + check.Column));
        // Read twice below, so PostgreSQL keeps it: only the narrow columns, so that a million rows stay in memory.
        return $$"""
            , findings as materialized (
                select row_number, blocking, flagged{{columns}} from checked_rows
            ),
            counts as (
                select count(*)::integer as total_rows, (count(*) filter (where not blocking))::integer as launchable_rows,
                       ({{findingCounts}})::integer as warning_count,
                       jsonb_build_object({{string.Join(", ", codeCounts)}}) as by_code,
                       {{blockedRows}} as blocked_rows
                from findings
            ),
            first_rows as (
                select row_number, {{problems}} as problems
                from findings where flagged
                order by row_number limit @warnings_limit
            ),
            first_warnings as (
                select f.row_number, split_part(problem, ':', 1) as code, substr(problem, strpos(problem, ':') + 1) as field
                from first_rows f cross join lateral unnest(f.problems) as problem
                order by 1, 2, 3 limit @warnings_limit
            )
            select c.total_rows, c.launchable_rows, c.warning_count,
                   coalesce((select jsonb_object_agg(key, value) from jsonb_each(c.by_code) where value::integer > 0), '{}')::text as by_code,
                   coalesce((select jsonb_agg(jsonb_build_object('row_number', row_number, 'code', code, 'field', field) order by row_number, code, field)
                             from first_warnings), '[]')::text as warnings,
                   c.blocked_rows
            from counts c
            """;
    }
}
