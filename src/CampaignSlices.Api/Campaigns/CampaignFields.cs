using System.Text.Json.Serialization;

namespace CampaignSlices.Api.Campaigns;

public enum CampaignType { Email, Linkedin, Mixed, Voice }

public enum LaunchType { Immediate, Scheduled }

public enum UnreviewedLaunchPolicy { LaunchDefault, Hold, Cancel }

/// <summary>
/// The fields of a campaign that a client sets, each declared once: its type here, and in its
/// <see cref="FieldAttribute"/> its PATCH group, default and whether null clears it. The request
/// bodies, the defaults, the stored columns, the PATCH table and the answer all read this
/// declaration (<see cref="FieldCatalogue"/>). Every field is optional here so that one validator
/// run can report every missing value at once; <see cref="CampaignValidator"/> holds the rules.
/// </summary>
public record CampaignFields
{
    // Answers list the identifying fields first, then the status (see Campaign), then the rest in declaration order.
    [Field(FieldGroup.Sequence), JsonPropertyOrder(-1)] public Guid? DatasetId { get; init; }
    [Field(FieldGroup.Descriptive), JsonPropertyOrder(-1)] public string? Name { get; init; }
    [Field(FieldGroup.Descriptive, Clearable = true), JsonPropertyOrder(-1)] public string? Description { get; init; }
    [Field(FieldGroup.Sequence), JsonPropertyOrder(-1)] public CampaignType? Type { get; init; }
    [Field(FieldGroup.LaunchType, Default = "\"immediate\"")] public LaunchType? LaunchType { get; init; }
    [Field(FieldGroup.StartDate, Clearable = true)] public DateTimeOffset? StartDate { get; init; }
    [Field(FieldGroup.Schedule, Clearable = true)] public DateTimeOffset? EndDate { get; init; }
    [Field(FieldGroup.Schedule, Default = "100")] public int? DailyLimit { get; init; }
    [Field(FieldGroup.Schedule, Default = "\"09:00\"")] public string? SendingWindowStart { get; init; }
    [Field(FieldGroup.Schedule, Default = "\"17:00\"")] public string? SendingWindowEnd { get; init; }
    [Field(FieldGroup.Schedule, Default = "300")] public int? MinIntervalSeconds { get; init; }
    [Field(FieldGroup.Schedule, Default = "\"UTC\"")] public string? Timezone { get; init; }
    [Field(FieldGroup.Schedule, Default = """["mon", "tue", "wed", "thu", "fri"]""")] public List<Weekday>? SendDays { get; init; }
    [Field(FieldGroup.Schedule, Default = "[]")] public List<DateOnly>? BlackoutDates { get; init; }
    [Field(FieldGroup.Safeguard, Default = "5", Clearable = true)] public double? BouncePausePercent { get; init; }
    [Field(FieldGroup.Schedule, Clearable = true)] public OperatingHours? OperatingHours { get; init; }
    [Field(FieldGroup.Sequence)] public List<CampaignStep>? StepsConfig { get; init; }
    [Field(FieldGroup.Sequence, Clearable = true)] public List<string>? AliasIds { get; init; }
    [Field(FieldGroup.Schedule, Default = "[]")] public List<AccountLimit>? AccountLimits { get; init; }
    [Field(FieldGroup.Sequence, Clearable = true)] public Guid? ConnectedAccountId { get; init; }
    [Field(FieldGroup.Sequence, Default = "false")] public bool? SkipOtherCampaigns { get; init; }
    [Field(FieldGroup.Sequence, Default = "true")] public bool? StopOnReply { get; init; }
    [Field(FieldGroup.Sequence, Default = "false")] public bool? OpenTracking { get; init; }
    [Field(FieldGroup.Sequence, Clearable = true)] public string? Signature { get; init; }
    [Field(FieldGroup.Voice, Clearable = true)] public VoiceConfig? VoiceConfig { get; init; }
    [Field(FieldGroup.Descriptive, Clearable = true)] public WebhookConfig? WebhookConfig { get; init; }
    [Field(FieldGroup.Personalization, Clearable = true)] public string? SystemPrompt { get; init; }
    [Field(FieldGroup.Personalization, Default = "\"launch_default\"")] public UnreviewedLaunchPolicy? UnreviewedLaunchPolicy { get; init; }
    [Field(FieldGroup.Personalization, Clearable = true)] public DateTimeOffset? PersonalizationReviewedAt { get; init; }
    [Field(FieldGroup.Personalization, Clearable = true)] public DateTimeOffset? PlaygroundDiscoveryDismissedAt { get; init; }

    /// <summary>
    /// The canonical form two equal campaigns share: steps renumbered by position, a repeated account
    /// limit keeping its last value. A null item (`"steps_config": [null]`) stays, for the validator.
    /// </summary>
    public CampaignFields Normalized() => this with
    {
        StepsConfig = StepsConfig?.Select((step, index) => step is null ? null! : step with { Step = index + 1 }).ToList(),
        AccountLimits = AccountLimits is null ? null : CollapseAccountLimits(AccountLimits),
    };

    /// <summary>Whether a scheduled launch of this campaign needs the owner's review first: AI personalization never reviewed.</summary>
    [JsonIgnore]
    public bool NeedsPersonalizationReview =>
        PersonalizationReviewedAt is null
        && (StepsConfig ?? []).Any(step => step.AiPersonalizationEnabled || step.Variants.Any(variant => variant.Type == VariantType.Ai));

    private static List<AccountLimit> CollapseAccountLimits(List<AccountLimit> limits) =>
        limits.Select((limit, index) => (limit, index))
            .GroupBy(entry => entry.limit?.AccountId)
            .Select(group => group.Last())
            .OrderBy(entry => entry.index)
            .Select(entry => entry.limit)
            .ToList();
}

public sealed record WebhookConfig
{
    [System.ComponentModel.DataAnnotations.Required] public string? Url { get; init; }
    public System.Text.Json.Nodes.JsonObject? Metadata { get; init; }
}
