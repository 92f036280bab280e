using System.Data.Common;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

/// <summary>
/// The campaigns table as slices read it: one column list (the server's columns, then each field's
/// column from the catalogue) and one materializer, so a column's name never becomes a JSON name by accident.
/// </summary>
public static class CampaignStore
{
    private static readonly string[] ServerColumns =
    [
        "campaign_id", "user_id", "status", "paused_reason", "total_leads", "processed_leads", "launch_job_id",
        "launch_requested_at", "launched_at", "launch_error", "created_at", "updated_at", "version",
    ];

    /// <summary>The select list every campaign read and RETURNING uses (the table aliased `c`).</summary>
    public static readonly string Columns = string.Join(", ", ServerColumns.Concat(FieldCatalogue.All.Select(field => field.Column)).Select(column => "c." + column));

    public static async Task<Campaign?> FindAsync(NpgsqlConnection connection, Guid campaignId, Guid userId, CancellationToken ct) =>
        await ReadSingleAsync(connection, new CommandDefinition(
            $"select {Columns} from campaigns c where c.campaign_id = @campaignId and c.user_id = @userId",
            new { campaignId, userId }, cancellationToken: ct));

    /// <summary>
    /// The campaign, locked until <paramref name="transaction"/> ends, so what is decided from it holds
    /// when it is written; <paramref name="userId"/> null for the service's own jobs.
    /// </summary>
    public static async Task<Campaign?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid campaignId, Guid? userId, CancellationToken ct) =>
        await ReadSingleAsync(connection, new CommandDefinition(
            $"select {Columns} from campaigns c where c.campaign_id = @campaignId and (@userId::uuid is null or c.user_id = @userId) for update",
            new { campaignId, userId }, transaction, cancellationToken: ct));

    /// <summary>Runs a statement that answers at most one campaign row (a SELECT, or a write RETURNING <see cref="Columns"/>).</summary>
    public static async Task<Campaign?> ReadSingleAsync(NpgsqlConnection connection, CommandDefinition command)
    {
        await using var reader = await connection.ExecuteReaderAsync(command);
        return await reader.ReadAsync(command.CancellationToken) ? Read(reader) : null;
    }

    public static async Task<List<Campaign>> ReadAllAsync(NpgsqlConnection connection, CommandDefinition command)
    {
        await using var reader = await connection.ExecuteReaderAsync(command);
        return await ReadRowsAsync(reader, command.CancellationToken);
    }

    /// <summary>The campaign rows of the reader's current result (a batch's statement selecting <see cref="Columns"/>).</summary>
    public static async Task<List<Campaign>> ReadRowsAsync(DbDataReader reader, CancellationToken ct)
    {
        var campaigns = new List<Campaign>();
        while (await reader.ReadAsync(ct))
            campaigns.Add(Read(reader));
        return campaigns;
    }

    private static Campaign Read(DbDataReader row)
    {
        var campaign = new Campaign
        {
            CampaignId = row.GetGuid(0),
            UserId = row.GetGuid(1),
            Status = (CampaignStatus)Infrastructure.Json.FromWire(typeof(CampaignStatus), row.GetString(2)),
            PausedReason = row.IsDBNull(3) ? null : row.GetString(3),
            TotalLeads = row.GetInt32(4),
            ProcessedLeads = row.GetInt32(5),
            LaunchJobId = row.IsDBNull(6) ? null : row.GetString(6),
            LaunchRequestedAt = row.IsDBNull(7) ? null : row.GetFieldValue<DateTimeOffset>(7),
            LaunchedAt = row.IsDBNull(8) ? null : row.GetFieldValue<DateTimeOffset>(8),
            LaunchError = row.IsDBNull(9) ? null : row.GetString(9),
            CreatedAt = row.GetFieldValue<DateTimeOffset>(10),
            UpdatedAt = row.GetFieldValue<DateTimeOffset>(11),
            Version = row.GetInt32(12),
        };
        for (var i = 0; i < FieldCatalogue.All.Count; i++)
            FieldCatalogue.All[i].Set(campaign, FieldCatalogue.All[i].Read(row, ServerColumns.Length + i));
        return campaign;
    }

    /// <summary>Parameters named as the fields, each holding its column's value.</summary>
    public static DynamicParameters Parameters(CampaignFields fields, IEnumerable<CampaignField> columns)
    {
        var parameters = new DynamicParameters();
        foreach (var field in columns)
            parameters.Add(field.Name, field.ColumnValue(fields));
        return parameters;
    }
}
