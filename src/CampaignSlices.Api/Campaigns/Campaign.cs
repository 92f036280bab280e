using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace CampaignSlices.Api.Campaigns;

public enum CampaignType { Email, Linkedin, Mixed, Voice }

public enum LaunchType { Immediate, Scheduled }

public enum UnreviewedLaunchPolicy { LaunchDefault, Hold, Cancel }

public enum Weekday { Mon, Tue, Wed, Thu, Fri, Sat, Sun }

public enum StepChannel { Email, Linkedin, Call }

public enum LinkedinAction { ConnectionRequest, Message, ProfileVisit, Follow, Inmail }

public enum VariantType { Template, Ai }

public enum VoiceAppType { Agent, Workflow }

/// <summary>
/// Every field a client sets on a campaign: the PATCH body, and the merged shape the validator
/// checks. Fields are nullable so that one validator can report every missing value at once.
/// </summary>
public record CampaignSettings
{
    public Guid? DatasetId { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public CampaignType? Type { get; init; }
    public LaunchType? LaunchType { get; init; }
    public DateTimeOffset? StartDate { get; init; }
    public DateTimeOffset? EndDate { get; init; }
    public int? DailyLimit { get; init; }
    public string? SendingWindowStart { get; init; }
    public string? SendingWindowEnd { get; init; }
    public int? MinIntervalSeconds { get; init; }
    public string? Timezone { get; init; }
    public List<Weekday>? SendDays { get; init; }
    public OperatingHours? OperatingHours { get; init; }
    public List<CampaignStep>? StepsConfig { get; init; }
    public List<string>? AliasIds { get; init; }
    public List<AccountLimit>? AccountLimits { get; init; }
    public Guid? ConnectedAccountId { get; init; }
    public bool? SkipOtherCampaigns { get; init; }
    public bool? StopOnReply { get; init; }
    public bool? OpenTracking { get; init; }
    public string? Signature { get; init; }
    public VoiceConfig? VoiceConfig { get; init; }
    public WebhookConfig? WebhookConfig { get; init; }
    public string? SystemPrompt { get; init; }
    public UnreviewedLaunchPolicy? UnreviewedLaunchPolicy { get; init; }
    public DateTimeOffset? PersonalizationReviewedAt { get; init; }
    public DateTimeOffset? PlaygroundDiscoveryDismissedAt { get; init; }

    /// <summary>The contract's defaults for what was left out, then <see cref="Normalized"/>.</summary>
    public CampaignSettings WithDefaults() => (this with
    {
        LaunchType = LaunchType ?? Campaigns.LaunchType.Immediate,
        DailyLimit = DailyLimit ?? 100,
        SendingWindowStart = SendingWindowStart ?? "09:00",
        SendingWindowEnd = SendingWindowEnd ?? "17:00",
        MinIntervalSeconds = MinIntervalSeconds ?? 300,
        Timezone = Timezone ?? "UTC",
        SendDays = SendDays ?? [Weekday.Mon, Weekday.Tue, Weekday.Wed, Weekday.Thu, Weekday.Fri],
        AccountLimits = AccountLimits ?? [],
        SkipOtherCampaigns = SkipOtherCampaigns ?? false,
        StopOnReply = StopOnReply ?? true,
        OpenTracking = OpenTracking ?? false,
        UnreviewedLaunchPolicy = UnreviewedLaunchPolicy ?? Campaigns.UnreviewedLaunchPolicy.LaunchDefault,
    }).Normalized();

    /// <summary>
    /// Steps renumbered by position; a repeated account limit keeps its last value. A null item
    /// (`"steps_config": [null]`) stays as it is, for the validator to report by its position.
    /// </summary>
    public CampaignSettings Normalized() => this with
    {
        StepsConfig = StepsConfig?.Select((step, index) => step is null ? null! : step with { Step = index + 1 }).ToList(),
        AccountLimits = AccountLimits is null ? null : CollapseAccountLimits(AccountLimits),
    };

    private static List<AccountLimit> CollapseAccountLimits(List<AccountLimit> limits) =>
        limits.Select((limit, index) => (limit, index))
            .GroupBy(entry => entry.limit?.AccountId)
            .Select(group => group.Last())
            .OrderBy(entry => entry.index)
            .Select(entry => entry.limit)
            .ToList();
}

public sealed record CampaignStep
{
    /// <summary>Set by the server to the step's 1-based position; a value sent is ignored.</summary>
    [Range(1, 10)] public int Step { get; init; }
    [Required] public StepChannel? Channel { get; init; }
    public int DelayDays { get; init; }
    public int DelayHours { get; init; }
    public int DelayMinutes { get; init; }
    public List<Variant> Variants { get; init; } = [];
    public bool AiPersonalizationEnabled { get; init; }
    public bool TrackClicks { get; init; }
    public LinkedinAction? ActionType { get; init; }
    public string? MessageTemplate { get; init; }

    [JsonIgnore]
    public int TotalDelayMinutes => DelayDays * 24 * 60 + DelayHours * 60 + DelayMinutes;
}

public sealed record Variant
{
    [Required] public string? Label { get; init; }
    [Required] public int? Weight { get; init; }
    [Required] public VariantType? Type { get; init; }
    public Guid? TemplateId { get; init; }
    public Guid? SenderProfileId { get; init; }
}

public sealed record AccountLimit
{
    [Required] public string? AccountId { get; init; }
    [Required] public int? DailyLimit { get; init; }
}

/// <summary>Per-weekday sending windows; a day left out sends nothing.</summary>
public sealed record OperatingHours
{
    public List<TimeWindow>? Mon { get; init; }
    public List<TimeWindow>? Tue { get; init; }
    public List<TimeWindow>? Wed { get; init; }
    public List<TimeWindow>? Thu { get; init; }
    public List<TimeWindow>? Fri { get; init; }
    public List<TimeWindow>? Sat { get; init; }
    public List<TimeWindow>? Sun { get; init; }

    public IEnumerable<(string Day, List<TimeWindow> Windows)> Days() =>
        new (string, List<TimeWindow>?)[] { ("mon", Mon), ("tue", Tue), ("wed", Wed), ("thu", Thu), ("fri", Fri), ("sat", Sat), ("sun", Sun) }
            .Where(day => day.Item2 is not null)
            .Select(day => (day.Item1, day.Item2!));
}

public sealed record TimeWindow
{
    [Required] public string? Start { get; init; }
    [Required] public string? End { get; init; }
}

public sealed record WebhookConfig
{
    [Required] public string? Url { get; init; }
    public JsonObject? Metadata { get; init; }
}

public sealed record VoiceConfig
{
    [Required] public string? AppId { get; init; }
    public int? AppVersion { get; init; }
    public VoiceAppType AppType { get; init; } = VoiceAppType.Agent;
    [Required] public double? AttemptsPerSecond { get; init; }
    [Required] public List<ConnectionConfig>? ConnectionConfigs { get; init; }
    public RetryConfig? RetryConfig { get; init; }
}

public sealed record ConnectionConfig
{
    [Required] public string? ConnectionId { get; init; }
    [Required] public List<string>? PhoneNumbers { get; init; }
    [Required] public int? Weight { get; init; }
}

public sealed record RetryConfig
{
    public int? MaxRetries { get; init; }
    public List<int>? RetryIntervalMinutes { get; init; }
    public RetryOn? RetryOn { get; init; }
}

public sealed record RetryOn
{
    public RetryToggle? Busy { get; init; }
    public RetryToggle? Failed { get; init; }
    public RetryToggle? NoAnswer { get; init; }
    public ShortDurationRetry? ShortDuration { get; init; }
    public ErrorRetry? ProviderError { get; init; }
    public ErrorRetry? InternalError { get; init; }
}

public sealed record RetryToggle
{
    public bool Enabled { get; init; }
}

public sealed record ShortDurationRetry
{
    public bool Enabled { get; init; }
    public int? ThresholdSeconds { get; init; }
}

public sealed record ErrorRetry
{
    public bool Enabled { get; init; }
    public int? MaxRetries { get; init; }
    public int? RetryIntervalMinutes { get; init; }
}

/// <summary>The campaign as every campaign endpoint answers it (SPEC 3.1). Its names are the table's columns.</summary>
public sealed record CampaignResponse
{
    public required Guid CampaignId { get; init; }
    public required Guid UserId { get; init; }
    public required Guid DatasetId { get; init; }
    public required string Name { get; init; }
    public required string? Description { get; init; }
    public required CampaignType Type { get; init; }
    public required CampaignStatus Status { get; init; }
    public required LaunchType LaunchType { get; init; }
    public required DateTimeOffset? StartDate { get; init; }
    public required DateTimeOffset? EndDate { get; init; }
    public required int DailyLimit { get; init; }
    public required string SendingWindowStart { get; init; }
    public required string SendingWindowEnd { get; init; }
    public required int MinIntervalSeconds { get; init; }
    public required string Timezone { get; init; }
    public required List<Weekday> SendDays { get; init; }
    public required OperatingHours? OperatingHours { get; init; }
    public required List<CampaignStep> StepsConfig { get; init; }
    public required List<string>? AliasIds { get; init; }
    public required List<AccountLimit> AccountLimits { get; init; }
    public required Guid? ConnectedAccountId { get; init; }
    public required bool SkipOtherCampaigns { get; init; }
    public required bool StopOnReply { get; init; }
    public required bool OpenTracking { get; init; }
    public required string? Signature { get; init; }
    public required VoiceConfig? VoiceConfig { get; init; }
    public required WebhookConfig? WebhookConfig { get; init; }
    public required string? SystemPrompt { get; init; }
    public required UnreviewedLaunchPolicy UnreviewedLaunchPolicy { get; init; }
    public required DateTimeOffset? PersonalizationReviewedAt { get; init; }
    public required DateTimeOffset? PlaygroundDiscoveryDismissedAt { get; init; }
    public required string? PausedReason { get; init; }
    public required int TotalLeads { get; init; }
    public required int ProcessedLeads { get; init; }
    public required string? LaunchJobId { get; init; }
    public required DateTimeOffset? LaunchRequestedAt { get; init; }
    public required DateTimeOffset? LaunchedAt { get; init; }
    public required string? LaunchError { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>
/// The campaign row as JSON (its columns carry the response's names), so every slice reads the
/// same shape with one small SELECT.
/// </summary>
public static class CampaignRows
{
    public const string Columns = "(to_jsonb(c) - 'version')::text as body, c.version";

    public sealed record Row(string Body, int Version)
    {
        public CampaignResponse Campaign => JsonSerializer.Deserialize<CampaignResponse>(Body, Json.StoredOptions)!;
    }

    /// <summary>
    /// The columns a client writes, each named as its field, with the value it takes from the
    /// settings. Create inserts them all, PATCH sets those it changes; no column name ever comes from input.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Column> Writable = new Column[]
    {
        new("dataset_id", c => c.DatasetId),
        new("name", c => c.Name),
        new("description", c => c.Description),
        new("type", c => c.Type?.ToWire()),
        new("launch_type", c => c.LaunchType?.ToWire()),
        new("start_date", c => c.StartDate?.ToUniversalTime()),
        new("end_date", c => c.EndDate?.ToUniversalTime()),
        new("daily_limit", c => c.DailyLimit),
        new("sending_window_start", c => c.SendingWindowStart),
        new("sending_window_end", c => c.SendingWindowEnd),
        new("min_interval_seconds", c => c.MinIntervalSeconds),
        new("timezone", c => c.Timezone),
        new("send_days", c => c.SendDays?.Select(day => day.ToWire()).ToArray()),
        new("operating_hours", c => Document(c.OperatingHours), Jsonb: true),
        new("steps_config", c => Document(c.StepsConfig), Jsonb: true),
        new("alias_ids", c => c.AliasIds?.ToArray()),
        new("account_limits", c => Document(c.AccountLimits), Jsonb: true),
        new("connected_account_id", c => c.ConnectedAccountId),
        new("skip_other_campaigns", c => c.SkipOtherCampaigns),
        new("stop_on_reply", c => c.StopOnReply),
        new("open_tracking", c => c.OpenTracking),
        new("signature", c => c.Signature),
        new("voice_config", c => Document(c.VoiceConfig), Jsonb: true),
        new("webhook_config", c => Document(c.WebhookConfig), Jsonb: true),
        new("system_prompt", c => c.SystemPrompt),
        new("unreviewed_launch_policy", c => c.UnreviewedLaunchPolicy?.ToWire()),
        new("personalization_reviewed_at", c => c.PersonalizationReviewedAt?.ToUniversalTime()),
        new("playground_discovery_dismissed_at", c => c.PlaygroundDiscoveryDismissedAt?.ToUniversalTime()),
    }.ToDictionary(column => column.Name);

    public sealed record Column(string Name, Func<CampaignSettings, object?> Value, bool Jsonb = false)
    {
        /// <summary>The parameter as SQL reads it: jsonb travels as text and is cast.</summary>
        public string Parameter => Jsonb ? $"cast(@{Name} as jsonb)" : $"@{Name}";
    }

    public static DynamicParameters Parameters(CampaignSettings settings, IEnumerable<Column> columns)
    {
        var parameters = new DynamicParameters();
        foreach (var column in columns)
            parameters.Add(column.Name, column.Value(settings));
        return parameters;
    }

    private static string? Document<T>(T? value) => value is null ? null : JsonSerializer.Serialize(value, Json.Options);

    public static Task<Row?> FindAsync(NpgsqlConnection connection, Guid campaignId, Guid userId, CancellationToken ct) =>
        connection.QuerySingleOrDefaultAsync<Row?>(new CommandDefinition(
            $"select {Columns} from campaigns c where c.campaign_id = @campaignId and c.user_id = @userId",
            new { campaignId, userId }, cancellationToken: ct));
}
