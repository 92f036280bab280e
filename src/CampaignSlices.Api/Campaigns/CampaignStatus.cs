namespace CampaignSlices.Api.Campaigns;

public enum CampaignStatus { Draft, Launching, Scheduled, Active, Draining, Paused, Completed, Failed, Cancelled }

/// <summary>What each status allows, as data (SPEC 5.1 and 6): the slices consult it and the tests walk it.</summary>
public static class CampaignStatusRules
{
    /// <summary>Only a draft may be deleted; anything launched keeps its history.</summary>
    public static readonly IReadOnlySet<CampaignStatus> Deletable = new HashSet<CampaignStatus> { CampaignStatus.Draft };

    public enum LifecycleAction { Launch, Pause, Resume, Cancel }

    /// <summary>
    /// Where each lifecycle action may start from, and the statuses in which it counts as already
    /// done (answered 200 without change, so clients may retry). Anything else is 409.
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

    /// <summary>SPEC 5.4: launched goes back to active; not yet launched to scheduled while its start is ahead, else to launching.</summary>
    public static CampaignStatus ResumeTarget(CampaignResponse campaign, DateTimeOffset now) =>
        campaign.LaunchedAt is not null ? CampaignStatus.Active
        : campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate > now ? CampaignStatus.Scheduled
        : CampaignStatus.Launching;

    /// <summary>The PATCH field groups of SPEC 6, each with the statuses in which its fields may change.</summary>
    public enum FieldGroup { Descriptive, Schedule, Personalization, LaunchType, StartDate, Sequence, Voice }

    public static readonly IReadOnlyDictionary<string, FieldGroup> FieldGroups = new Dictionary<string, FieldGroup>
    {
        ["name"] = FieldGroup.Descriptive,
        ["description"] = FieldGroup.Descriptive,
        ["webhook_config"] = FieldGroup.Descriptive,
        ["operating_hours"] = FieldGroup.Schedule,
        ["sending_window_start"] = FieldGroup.Schedule,
        ["sending_window_end"] = FieldGroup.Schedule,
        ["send_days"] = FieldGroup.Schedule,
        ["timezone"] = FieldGroup.Schedule,
        ["daily_limit"] = FieldGroup.Schedule,
        ["min_interval_seconds"] = FieldGroup.Schedule,
        ["account_limits"] = FieldGroup.Schedule,
        ["end_date"] = FieldGroup.Schedule,
        ["system_prompt"] = FieldGroup.Personalization,
        ["unreviewed_launch_policy"] = FieldGroup.Personalization,
        ["personalization_reviewed_at"] = FieldGroup.Personalization,
        ["playground_discovery_dismissed_at"] = FieldGroup.Personalization,
        ["launch_type"] = FieldGroup.LaunchType,
        ["start_date"] = FieldGroup.StartDate,
        ["type"] = FieldGroup.Sequence,
        ["dataset_id"] = FieldGroup.Sequence,
        ["steps_config"] = FieldGroup.Sequence,
        ["alias_ids"] = FieldGroup.Sequence,
        ["connected_account_id"] = FieldGroup.Sequence,
        ["skip_other_campaigns"] = FieldGroup.Sequence,
        ["stop_on_reply"] = FieldGroup.Sequence,
        ["open_tracking"] = FieldGroup.Sequence,
        ["signature"] = FieldGroup.Sequence,
        ["voice_config"] = FieldGroup.Voice,
    };

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
        };

    /// <summary>The voice platform's rule: a voice campaign takes no change at all outside these.</summary>
    public static readonly IReadOnlySet<CampaignStatus> VoicePatchableIn = Set(CampaignStatus.Draft, CampaignStatus.Scheduled, CampaignStatus.Paused);

    /// <summary>Fields whose change on an active campaign re-times the leads waiting for a window (SPEC 6, note 1).</summary>
    public static readonly IReadOnlySet<string> ScheduleFields = FieldGroups.Where(f => f.Value == FieldGroup.Schedule).Select(f => f.Key).ToHashSet();

    public static bool MayChange(string field, CampaignStatus status, CampaignType type) =>
        (type != CampaignType.Voice || VoicePatchableIn.Contains(status)) && EditableIn[FieldGroups[field]].Contains(status);

    private static HashSet<CampaignStatus> Set(params CampaignStatus[] statuses) => [.. statuses];
}
