using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;

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
    /// pauses each active campaign that crossed its threshold, recording the pause's event (details: the counts and the
    /// threshold that paused it) and its webhook; nothing when nothing moved.
    /// </summary>
    public static void AddCount(IReadOnlyDictionary<Guid, Tally> tallies, List<string> statements, DynamicParameters parameters)
    {
        var moved = tallies.Where(tally => tally.Value.Closes > 0 || tally.Value.Bounces > 0).OrderBy(tally => tally.Key).ToList();
        if (moved.Count == 0)
            return;
        var change = CampaignStatusRules.Change(CampaignStatus.Active, CampaignStatus.Paused, CampaignEventType.BounceRateExceeded);
        statements.Add(CountSql);
        parameters.AddDynamicParams(new
        {
            bounce_campaigns = moved.Select(tally => tally.Key).ToArray(),
            bounce_closes = moved.Select(tally => tally.Value.Closes).ToArray(),
            bounce_bounces = moved.Select(tally => tally.Value.Bounces).ToArray(),
            bounce_minimum = MinimumCloses,
            bounce_active = change.From.ToWire(),
            bounce_paused = change.To.ToWire(),
            bounce_event = change.Event.ToWire(),
            bounce_reason = BounceRateExceeded,
            bounce_by = CampaignEvents.BySystem,
        });
    }

    // The share compared as bounces * 100 >= percent * closes in numeric (the percent's decimal digits exactly), so that exactly the threshold pauses.
    private static readonly string CountSql = $"""
        with counted as (
            insert into campaign_email_counts as t (campaign_id, closes, bounces)
            select * from unnest(@bounce_campaigns::uuid[], @bounce_closes::int[], @bounce_bounces::int[])
            on conflict (campaign_id) do update set closes = t.closes + excluded.closes, bounces = t.bounces + excluded.bounces
            returning t.campaign_id, t.closes, t.bounces
        ),
        paused as (
            update campaigns c
            set status = @bounce_paused, paused_reason = @bounce_reason, updated_at = @now
            from counted x
            where c.campaign_id = x.campaign_id and c.status = @bounce_active and c.bounce_pause_percent is not null
              and x.closes >= @bounce_minimum and x.bounces * 100::numeric >= c.bounce_pause_percent::numeric * x.closes
            returning c.campaign_id, x.closes, x.bounces, c.bounce_pause_percent
        ),
        pause as (
            select campaign_id, @bounce_event::text as type, @bounce_active::text as from_status, @bounce_paused::text as to_status,
                   @bounce_reason::text as reason, @bounce_by::text as actor,
                   jsonb_build_object('email_closes', closes, 'email_bounces', bounces, 'bounce_pause_percent', bounce_pause_percent) as details
            from paused
        ),
        {CampaignEvents.RecordChangesSql("pause", "pause")}
        select campaign_id from paused
        """;
}
