using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// A running campaign's progress: processed_leads moves in the transaction of each lead status change,
/// and a running campaign with no lead left in play becomes completed there and then.
/// </summary>
public static class CampaignProgress
{
    /// <summary>
    /// Adds leads that left play (completed, stopped, failed) to their campaigns' processed_leads and completes the finished;
    /// adds email closes and bounces to the campaigns' counters and pauses those over their threshold (<see cref="BounceGuard"/>).
    /// The <paramref name="leading"/> statements (writes returning no rows, with their values in <paramref name="parameters"/>)
    /// go first, in the same round trip.
    /// </summary>
    public static async Task MoveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyDictionary<Guid, int> processed,
        IReadOnlyDictionary<Guid, BounceGuard.Tally> tallies, DateTimeOffset now, IReadOnlyList<string> leading, DynamicParameters parameters,
        CancellationToken ct)
    {
        var statements = new List<string>(leading);
        parameters.Add("now", now);
        var moved = processed.Where(p => p.Value > 0).OrderBy(p => p.Key).ToList();
        if (moved.Count > 0)
        {
            // The counters moved, then the finished completed: the second statement sees the first's counts.
            statements.Add(AddProcessedSql);
            statements.Add(CompleteSql);
            parameters.Add("progress_campaigns", moved.Select(p => p.Key).ToArray());
            parameters.Add("progress_counts", moved.Select(p => p.Value).ToArray());
            parameters.Add("running", CampaignStatusRules.From(CampaignStatus.Completed, CampaignEventType.Completed));
            parameters.Add("completed", CampaignStatus.Completed.ToWire());
        }
        var counted = BounceGuard.AddCount(tallies, statements, parameters);
        if (statements.Count == 0)
            return;
        List<(Guid CampaignId, string Status)> finished = [];
        List<BounceGuard.Paused> paused = [];
        await using (var results = await connection.QueryMultipleAsync(new CommandDefinition(string.Join(";\n", statements), parameters, transaction,
            cancellationToken: ct)))
        {
            if (moved.Count > 0)
                finished = [.. await results.ReadAsync<(Guid CampaignId, string Status)>()];
            if (counted)
                paused = [.. await results.ReadAsync<BounceGuard.Paused>()];
        }
        await RecordCompletedAsync(connection, transaction, finished, now, ct);
        await BounceGuard.RecordPausedAsync(connection, transaction, paused, now, ct);
    }

    /// <summary>Every running campaign among <paramref name="campaignIds"/> (all when null) whose leads are all done becomes completed.</summary>
    public static async Task<int> CompleteFinishedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[]? campaignIds,
        DateTimeOffset now, CancellationToken ct)
    {
        var finished = (await connection.QueryAsync<(Guid CampaignId, string Status)>(new CommandDefinition(campaignIds is null ? CompleteAnySql : CompleteSql, new
        {
            progress_campaigns = campaignIds,
            running = CampaignStatusRules.From(CampaignStatus.Completed, CampaignEventType.Completed),
            completed = CampaignStatus.Completed.ToWire(),
            now,
        }, transaction, cancellationToken: ct))).ToList();
        await RecordCompletedAsync(connection, transaction, finished, now, ct);
        return finished.Count;
    }

    private static async Task RecordCompletedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<(Guid CampaignId, string Status)> finished,
        DateTimeOffset now, CancellationToken ct)
    {
        foreach (var (campaignId, status) in finished)
        {
            var change = CampaignStatusRules.Change((CampaignStatus)Json.FromWire(typeof(CampaignStatus), status), CampaignStatus.Completed,
                CampaignEventType.Completed);
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.BySystem, now, ct);
        }
    }

    // processed_leads is a counter of the dispatcher's: it leaves updated_at (what a client's change moves) alone.
    private const string AddProcessedSql = """
        update campaigns c
        set processed_leads = c.processed_leads + x.count
        from unnest(@progress_campaigns::uuid[], @progress_counts::int[]) as x (campaign_id, count)
        where c.campaign_id = x.campaign_id
        """;

    // Two statements rather than one with "@ids is null or …": a prepared statement's plan then serves both cases, and
    // for the outcome's few campaigns that was a scan of every campaign.
    private static readonly string CompleteSql = Complete("campaign_id = any(@progress_campaigns) and ");

    private static readonly string CompleteAnySql = Complete("");

    private static string Complete(string among) => $"""
        with finished as (
            select campaign_id, status
            from campaigns
            where {among}status = any(@running) and processed_leads >= total_leads
            for no key update skip locked
        )
        update campaigns c
        set status = @completed, updated_at = @now
        from finished f
        where c.campaign_id = f.campaign_id
        returning c.campaign_id, f.status
        """;
}
