using CampaignSlices.Api.Campaigns;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// What a call's outcome leads to under the campaign's retry_config: the step done, another attempt after a delay,
/// or the lead failed. Pure, so every combination of settings is unit-tested without a database.
/// </summary>
public static class CallRetries
{
    /// <summary>The delay when neither retry_interval_minutes nor the outcome's own interval is given.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The outcome a call report counts as: an answered call shorter than short_duration's threshold (when that retry
    /// is enabled) counts as short_duration; every other outcome as itself.
    /// </summary>
    public static ActionOutcome Effective(ActionOutcome reported, int? durationSeconds, RetryConfig? retries) =>
        reported == ActionOutcome.Completed && retries?.RetryOn?.ShortDuration is { Enabled: true, ThresholdSeconds: { } threshold }
            && durationSeconds is { } duration && duration < threshold
            ? ActionOutcome.ShortDuration
            : reported;

    /// <summary>
    /// After attempt <paramref name="attempt"/> closed with <paramref name="outcome"/> (not an answered call), the delay
    /// before the next attempt, or null when the lead fails: the outcome's retry is enabled, fewer than max_retries
    /// retries were made (a missing max_retries counts as 0), and for provider and internal errors fewer retries for that
    /// same outcome than its own max_retries (<paramref name="sameOutcomeBefore"/>: earlier attempts of the step that
    /// closed with it; a missing own max_retries leaves only the overall cap).
    /// </summary>
    public static TimeSpan? NextAttemptAfter(RetryConfig? retries, ActionOutcome outcome, int attempt, int sameOutcomeBefore)
    {
        var retryOn = retries?.RetryOn;
        var made = attempt - 1;
        if (retries is null || retryOn is null || made >= (retries.MaxRetries ?? 0))
            return null;
        switch (outcome)
        {
            case ActionOutcome.Busy when retryOn.Busy?.Enabled == true:
            case ActionOutcome.NoAnswer when retryOn.NoAnswer?.Enabled == true:
            case ActionOutcome.Failed when retryOn.Failed?.Enabled == true:
            case ActionOutcome.ShortDuration when retryOn.ShortDuration?.Enabled == true:
                return retries.RetryIntervalMinutes is { Count: > 0 } intervals
                    ? TimeSpan.FromMinutes(intervals[Math.Min(made, intervals.Count - 1)])
                    : DefaultInterval;
            case ActionOutcome.ProviderError or ActionOutcome.InternalError:
                var own = outcome == ActionOutcome.ProviderError ? retryOn.ProviderError : retryOn.InternalError;
                if (own is not { Enabled: true } || sameOutcomeBefore >= (own.MaxRetries ?? int.MaxValue))
                    return null;
                return own.RetryIntervalMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : DefaultInterval;
            default:
                return null;
        }
    }
}
