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
    /// adds email closes and bounces to the campaigns' counters and pauses those over their threshold (<see cref="BounceGuard"/>);
    /// records those status changes' events; and commits. The <paramref name="leading"/> statements (writes, with their values
    /// in <paramref name="parameters"/>) go first: all of it, the commit included, is one round trip.
    /// </summary>
    public static async Task MoveAndCommitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyDictionary<Guid, int> processed,
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
            AddCompletionParameters(parameters);
        }
        BounceGuard.AddCount(tallies, statements, parameters);
        statements.Add(DispatchPlans.Commit);
        await connection.ExecuteAsync(new CommandDefinition(string.Join(";\n", statements), parameters, transaction, cancellationToken: ct));
    }

    /// <summary>Every running campaign among <paramref name="campaignIds"/> (all when null) whose leads are all done becomes completed.</summary>
    public static async Task<int> CompleteFinishedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[]? campaignIds,
        DateTimeOffset now, CancellationToken ct)
    {
        var parameters = new DynamicParameters(new { progress_campaigns = campaignIds, now });
        AddCompletionParameters(parameters);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(campaignIds is null ? CompleteAnySql : CompleteSql, parameters, transaction,
            cancellationToken: ct))).Count();
    }

    private static void AddCompletionParameters(DynamicParameters parameters)
    {
        parameters.Add("running", CampaignStatusRules.From(CampaignStatus.Completed, CampaignEventType.Completed));
        parameters.Add("completed", CampaignStatus.Completed.ToWire());
        parameters.Add("completed_event", CampaignEventType.Completed.ToWire());
        parameters.Add("completed_by", CampaignEvents.BySystem);
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

    private static string Complete(string among) => $$"""
        with finished as (
            select campaign_id, status
            from campaigns
            where {{among}}status = any(@running) and processed_leads >= total_leads
            for no key update skip locked
        ),
        completed as (
            update campaigns c
            set status = @completed, updated_at = @now
            from finished f
            where c.campaign_id = f.campaign_id
            returning c.campaign_id, f.status
        ),
        completion as (
            select campaign_id, @completed_event::text as type, status as from_status, @completed::text as to_status, null::text as reason,
                   @completed_by::text as actor, '{}'::jsonb as details
            from completed
        ),
        {{CampaignEvents.RecordChangesSql("completion", "completion")}}
        select campaign_id from completed
        """;
}
