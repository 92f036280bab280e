using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Campaigns;

public enum CampaignStatus { Draft, Launching, Scheduled, Active, Draining, Paused, Completed, Failed, Cancelled }

/// <summary>A lead's place in its sequence: pending and active leads are in play, the others done with it.</summary>
public enum LeadStatus { Pending, Active, Completed, Stopped, Failed }

/// <summary>What the audit trail records; every status change has one (see <see cref="CampaignStatusRules.Changes"/>).</summary>
public enum CampaignEventType
{
    Updated, ScheduleChanged, LaunchRequested, Scheduled, LaunchStarted, HeldForReview, LaunchCancelledUnreviewed,
    Launched, LaunchFailed, Paused, Resumed, Cancelled, EndDateReached, Completed, BounceRateExceeded,
}

/// <summary>The PATCH field groups, each with the statuses in which its fields may change.</summary>
public enum FieldGroup { Descriptive, Schedule, Personalization, LaunchType, StartDate, Sequence, Voice, Safeguard }

public enum LifecycleAction { Launch, Pause, Resume, Cancel }

/// <summary>What each status allows, as data: the slices consult it and the tests walk it.</summary>
public static class CampaignStatusRules
{
    /// <summary>Every status change the service makes, and the event that records it. Nothing else moves a status.</summary>
    public sealed record StatusChange(CampaignStatus From, CampaignStatus To, CampaignEventType Event);

    public static readonly IReadOnlyList<StatusChange> Changes =
    [
        new(CampaignStatus.Draft, CampaignStatus.Launching, CampaignEventType.LaunchRequested),
        new(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignEventType.Scheduled),
        // The scheduled start under the unreviewed-launch policy: launch, hold for review, or back to draft.
        new(CampaignStatus.Scheduled, CampaignStatus.Launching, CampaignEventType.LaunchStarted),
        new(CampaignStatus.Scheduled, CampaignStatus.Paused, CampaignEventType.HeldForReview),
        new(CampaignStatus.Scheduled, CampaignStatus.Draft, CampaignEventType.LaunchCancelledUnreviewed),
        // Enrollment's end.
        new(CampaignStatus.Launching, CampaignStatus.Active, CampaignEventType.Launched),
        new(CampaignStatus.Launching, CampaignStatus.Failed, CampaignEventType.LaunchFailed),
        new(CampaignStatus.Scheduled, CampaignStatus.Paused, CampaignEventType.Paused),
        new(CampaignStatus.Active, CampaignStatus.Paused, CampaignEventType.Paused),
        new(CampaignStatus.Paused, CampaignStatus.Active, CampaignEventType.Resumed),
        new(CampaignStatus.Paused, CampaignStatus.Scheduled, CampaignEventType.Resumed),
        new(CampaignStatus.Paused, CampaignStatus.Launching, CampaignEventType.Resumed),
        new(CampaignStatus.Scheduled, CampaignStatus.Cancelled, CampaignEventType.Cancelled),
        new(CampaignStatus.Active, CampaignStatus.Cancelled, CampaignEventType.Cancelled),
        new(CampaignStatus.Paused, CampaignStatus.Cancelled, CampaignEventType.Cancelled),
        new(CampaignStatus.Draining, CampaignStatus.Cancelled, CampaignEventType.Cancelled),
        // The dispatcher's: end_date passed (no new lead starts), and no lead left in play.
        new(CampaignStatus.Active, CampaignStatus.Draining, CampaignEventType.EndDateReached),
        new(CampaignStatus.Active, CampaignStatus.Completed, CampaignEventType.Completed),
        new(CampaignStatus.Draining, CampaignStatus.Completed, CampaignEventType.Completed),
        // The bounce guard's: the bounced share of the campaign's email reached bounce_pause_percent.
        new(CampaignStatus.Active, CampaignStatus.Paused, CampaignEventType.BounceRateExceeded),
    ];

    /// <summary>The change from <paramref name="from"/> to <paramref name="to"/> recorded as <paramref name="type"/>; a change not in the table is a bug.</summary>
    public static StatusChange Change(CampaignStatus from, CampaignStatus to, CampaignEventType type) =>
        Changes.SingleOrDefault(change => change == new StatusChange(from, to, type))
        ?? throw new InvalidOperationException($"{from} → {to} ({type}) is not a status change the rules allow.");

    /// <summary>The statuses a change of <paramref name="type"/> into <paramref name="to"/> starts from: what its conditional UPDATE requires.</summary>
    public static string[] From(CampaignStatus to, CampaignEventType type) =>
        [.. Changes.Where(change => change.To == to && change.Event == type).Select(change => change.From.ToWire())];

    /// <summary>Only a draft may be deleted; anything launched keeps its history.</summary>
    public static readonly IReadOnlySet<CampaignStatus> Deletable = Set(CampaignStatus.Draft);

    /// <summary>Campaigns whose leads count as enrolled for the user-wide LinkedIn check.</summary>
    public static readonly IReadOnlySet<CampaignStatus> HoldsEnrolledLeads = Set(CampaignStatus.Active, CampaignStatus.Paused);

    /// <summary>Campaigns whose due actions are leased to workers; outcomes of any campaign's leases are accepted.</summary>
    public static readonly IReadOnlySet<CampaignStatus> Dispatching = Set(CampaignStatus.Active, CampaignStatus.Draining);

    /// <summary>Campaigns whose waiting leads a schedule change re-times.</summary>
    public static readonly IReadOnlySet<CampaignStatus> Retimed = Set(CampaignStatus.Active, CampaignStatus.Paused);

    /// <summary>Leads still in play; cancelling stops them.</summary>
    public static readonly IReadOnlySet<LeadStatus> LeadsInPlay = new HashSet<LeadStatus> { LeadStatus.Pending, LeadStatus.Active };

    /// <summary>
    /// Where each user action may start from, and the statuses in which it counts as already done
    /// (answered 200 without change, so clients may retry). Anything else is 409.
    /// </summary>
    public sealed record Transition(IReadOnlySet<CampaignStatus> From, IReadOnlySet<CampaignStatus> AlreadyDone);

    public static readonly IReadOnlyDictionary<LifecycleAction, Transition> Lifecycle = new Dictionary<LifecycleAction, Transition>
    {
        [LifecycleAction.Launch] = new(Set(CampaignStatus.Draft), Set()),
        [LifecycleAction.Pause] = new(Set(CampaignStatus.Scheduled, CampaignStatus.Active), Set(CampaignStatus.Paused)),
        [LifecycleAction.Resume] = new(Set(CampaignStatus.Paused), Set(CampaignStatus.Active, CampaignStatus.Scheduled, CampaignStatus.Launching)),
        [LifecycleAction.Cancel] = new(
            Set(CampaignStatus.Scheduled, CampaignStatus.Active, CampaignStatus.Paused, CampaignStatus.Draining), Set(CampaignStatus.Cancelled)),
    };

    /// <summary>Launched goes back to active; not yet launched to scheduled while its start is ahead, else to launching.</summary>
    public static CampaignStatus ResumeTarget(Campaign campaign, DateTimeOffset now) =>
        campaign.LaunchedAt is not null ? CampaignStatus.Active
        : campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate > now ? CampaignStatus.Scheduled
        : CampaignStatus.Launching;

    public static readonly IReadOnlyDictionary<FieldGroup, IReadOnlySet<CampaignStatus>> EditableIn =
        new Dictionary<FieldGroup, IReadOnlySet<CampaignStatus>>
        {
            [FieldGroup.Descriptive] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Active, CampaignStatus.Paused, CampaignStatus.Draining),
            [FieldGroup.Schedule] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Active, CampaignStatus.Paused),
            [FieldGroup.Personalization] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Active, CampaignStatus.Paused),
            [FieldGroup.LaunchType] = Set(CampaignStatus.Draft),
            [FieldGroup.StartDate] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled),
            [FieldGroup.Sequence] = Set(CampaignStatus.Draft),
            [FieldGroup.Voice] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Paused),
            // The schedule's statuses, but a change re-times nothing.
            [FieldGroup.Safeguard] = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Active, CampaignStatus.Paused),
        };

    /// <summary>The voice platform's rule: a voice campaign takes no change at all outside these.</summary>
    public static readonly IReadOnlySet<CampaignStatus> VoicePatchableIn = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Paused);

    /// <summary>Fields whose change on an active campaign re-times the leads waiting for a window.</summary>
    public static readonly IReadOnlySet<string> ScheduleFields =
        FieldCatalogue.All.Where(field => field.Group == FieldGroup.Schedule).Select(field => field.Name).ToHashSet();

    public static bool MayChange(string field, CampaignStatus status, CampaignType type) =>
        (type != CampaignType.Voice || VoicePatchableIn.Contains(status)) && EditableIn[FieldCatalogue.ByName[field].Group].Contains(status);

    private static HashSet<CampaignStatus> Set(params CampaignStatus[] statuses) => [.. statuses];
}
