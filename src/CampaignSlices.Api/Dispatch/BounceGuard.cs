using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// Pauses an active campaign whose email bounces too often: once at least <see cref="MinimumCloses"/> of its email
/// actions closed as sent or bounced, a bounced share at or above its bounce_pause_percent pauses it
/// (paused_reason bounce_rate_exceeded, a system event and its webhook). Runs in the transaction of the outcomes or
/// the event that moved the counts, with the campaigns already locked by it, so the counters need no lock of their own.
/// </summary>
public static class BounceGuard
{
    public const string BounceRateExceeded = "bounce_rate_exceeded";

    /// <summary>Below this many sent or bounced emails a share says too little to act on.</summary>
    public const int MinimumCloses = 50;

    /// <summary>What moved a campaign's counts: email actions closed as sent or bounced, and how many of them bounced.</summary>
    public readonly record struct Tally(int Closes, int Bounces);

    /// <summary>A campaign the guard paused, with the counts that paused it.</summary>
    public sealed record Paused(Guid CampaignId, int Closes, int Bounces, double Percent);

    /// <summary>The email actions among <paramref name="closed"/> (campaign, channel, outcome as on the wire) that closed as sent or bounced, by campaign.</summary>
    public static IReadOnlyDictionary<Guid, Tally> Tallies(IEnumerable<(Guid CampaignId, string Channel, string Outcome)> closed)
    {
        var email = StepChannel.Email.ToWire();
        var (sent, bounced) = (ActionOutcome.Sent.ToWire(), ActionOutcome.Bounced.ToWire());
        return closed.Where(close => close.Channel == email && (close.Outcome == sent || close.Outcome == bounced))
            .GroupBy(close => close.CampaignId)
            .ToDictionary(group => group.Key, group => new Tally(group.Count(), group.Count(close => close.Outcome == bounced)));
    }

    /// <summary>
    /// Adds to <paramref name="statements"/> the statement that adds <paramref name="tallies"/> to the campaigns' counters and
    /// pauses each active campaign that crossed its threshold, answering the <see cref="Paused"/>; false when nothing moved.
    /// </summary>
    public static bool AddCount(IReadOnlyDictionary<Guid, Tally> tallies, List<string> statements, DynamicParameters parameters)
    {
        var moved = tallies.Where(tally => tally.Value.Closes > 0 || tally.Value.Bounces > 0).OrderBy(tally => tally.Key).ToList();
        if (moved.Count == 0)
            return false;
        statements.Add(CountSql);
        parameters.AddDynamicParams(new
        {
            bounce_campaigns = moved.Select(tally => tally.Key).ToArray(),
            bounce_closes = moved.Select(tally => tally.Value.Closes).ToArray(),
            bounce_bounces = moved.Select(tally => tally.Value.Bounces).ToArray(),
            bounce_minimum = MinimumCloses,
            bounce_active = CampaignStatusRules.From(CampaignStatus.Paused, CampaignEventType.BounceRateExceeded),
            bounce_paused = CampaignStatus.Paused.ToWire(),
            bounce_reason = BounceRateExceeded,
        });
        return true;
    }

    /// <summary>The status-change event (and its webhook) of each campaign the guard paused.</summary>
    public static async Task RecordPausedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Paused> paused,
        DateTimeOffset now, CancellationToken ct)
    {
        var change = CampaignStatusRules.Change(CampaignStatus.Active, CampaignStatus.Paused, CampaignEventType.BounceRateExceeded);
        foreach (var campaign in paused)
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaign.CampaignId, change, CampaignEvents.BySystem, now, ct,
                reason: BounceRateExceeded,
                details: new { email_closes = campaign.Closes, email_bounces = campaign.Bounces, bounce_pause_percent = campaign.Percent });
    }

    // The share compared as bounces * 100 >= percent * closes in numeric (the percent's decimal digits exactly), so that exactly the threshold pauses.
    private const string CountSql = """
        with counted as (
            insert into campaign_email_counts as t (campaign_id, closes, bounces)
            select * from unnest(@bounce_campaigns::uuid[], @bounce_closes::int[], @bounce_bounces::int[])
            on conflict (campaign_id) do update set closes = t.closes + excluded.closes, bounces = t.bounces + excluded.bounces
            returning t.campaign_id, t.closes, t.bounces
        )
        update campaigns c
        set status = @bounce_paused, paused_reason = @bounce_reason, updated_at = @now
        from counted x
        where c.campaign_id = x.campaign_id and c.status = any(@bounce_active) and c.bounce_pause_percent is not null
          and x.closes >= @bounce_minimum and x.bounces * 100::numeric >= c.bounce_pause_percent::numeric * x.closes
        returning c.campaign_id, x.closes, x.bounces, c.bounce_pause_percent as percent
        """;
}
