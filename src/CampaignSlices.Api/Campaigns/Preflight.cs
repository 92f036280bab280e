// Checks every row of a campaign's dataset against its steps and answers the summary and the first warnings; writes nothing.
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

public static class Preflight
{
    public sealed record Response(LeadRules.Summary Summary, List<LeadRules.Warning> Warnings);

    public const int DefaultWarningsLimit = 100;
    public const int MaxWarningsLimit = 1000;

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, NpgsqlDataSource db, CancellationToken ct,
        [FromQuery(Name = "warnings_limit")] string? warningsLimit = null)
    {
        var limit = DefaultWarningsLimit;
        if (warningsLimit is not null && (!int.TryParse(warningsLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > MaxWarningsLimit))
            return Problems.Invalid("warnings_limit", $"Must be a whole number from 0 to {MaxWarningsLimit}.");

        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await CampaignRows.FindAsync(connection, campaignId, user.UserId(), ct);
        if (row is null)
            return Problems.NotFound($"Campaign {campaignId} was not found.");
        return TypedResults.Ok(await RunAsync(connection, null, row.Campaign, limit, ct));
    }

    /// <summary>The check itself, one SQL statement; the launch runs it too.</summary>
    public static async Task<Response> RunAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CampaignResponse campaign, int warningsLimit, CancellationToken ct)
    {
        await using var own = transaction is null ? await connection.BeginTransactionAsync(ct) : null;
        transaction ??= own;
        await connection.ExecuteAsync(new CommandDefinition(LeadRules.SortMemorySql, transaction: transaction, cancellationToken: ct));
        var (checkedRows, parameters) = LeadRules.CheckedRows(campaign);
        parameters.Add("warnings_limit", warningsLimit);
        var result = await connection.QuerySingleAsync<(int TotalRows, int LaunchableRows, int WarningCount, string ByCode, string Warnings)>(
            new CommandDefinition(checkedRows + Sql, parameters, transaction, commandTimeout: 0, cancellationToken: ct));
        var warnings = JsonSerializer.Deserialize<List<FlatWarning>>(result.Warnings, Json.StoredOptions)!
            .Select(w => new LeadRules.Warning(w.RowNumber, w.Code, w.Field, LeadRules.MessageFor(w.Code, w.Field)))
            .ToList();
        var byCode = JsonSerializer.Deserialize<Dictionary<string, int>>(result.ByCode)!;
        return new Response(new LeadRules.Summary(result.TotalRows, result.LaunchableRows, result.WarningCount, byCode), warnings);
    }

    private sealed record FlatWarning(int RowNumber, string Code, string Field);

    // One pass counts the rows; only rows with problems are unnested into warnings.
    private const string Sql = """
        , warnings as (
            select c.row_number, split_part(problem, ':', 1) as code, substr(problem, strpos(problem, ':') + 1) as field
            from checked_rows c cross join lateral unnest(c.problems) as problem
            where cardinality(c.problems) > 0
        ),
        counts as (
            select count(*)::integer as total_rows, (count(*) filter (where not blocking))::integer as launchable_rows
            from checked_rows
        )
        select counts.total_rows, counts.launchable_rows,
               (select count(*) from warnings)::integer as warning_count,
               coalesce((select jsonb_object_agg(code, n) from (select code, count(*) as n from warnings group by code) g), '{}')::text as by_code,
               coalesce((select jsonb_agg(jsonb_build_object('row_number', row_number, 'code', code, 'field', field) order by row_number, code, field)
                         from (select * from warnings order by row_number, code, field limit @warnings_limit) w), '[]')::text as warnings
        from counts
        """;
}
