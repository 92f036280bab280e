using System.ComponentModel.DataAnnotations;

namespace CampaignSlices.Api.Campaigns;

public enum VoiceAppType { Agent, Workflow }

/// <summary>How a voice campaign calls: the agent app, the call rate, the phone connections and the retries.</summary>
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
