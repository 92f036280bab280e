using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Dispatch;

namespace CampaignSlices.Tests.Dispatch;

/// <summary>The pure rules of calls: what an outcome counts as, when the next attempt is due, and the call rate's window.</summary>
public sealed class CallRetriesTests
{
    private static RetryConfig Config(int? maxRetries = 3, List<int>? intervals = null, RetryOn? retryOn = null) => new()
    {
        MaxRetries = maxRetries,
        RetryIntervalMinutes = intervals,
        RetryOn = retryOn ?? new RetryOn
        {
            Busy = new RetryToggle { Enabled = true },
            NoAnswer = new RetryToggle { Enabled = true },
            Failed = new RetryToggle { Enabled = false },
            ShortDuration = new ShortDurationRetry { Enabled = true, ThresholdSeconds = 10 },
            ProviderError = new ErrorRetry { Enabled = true, MaxRetries = 2, RetryIntervalMinutes = 5 },
            InternalError = new ErrorRetry { Enabled = true },
        },
    };

    [Theory]
    [InlineData(9, ActionOutcome.ShortDuration)]
    [InlineData(10, ActionOutcome.Completed)]
    [InlineData(null, ActionOutcome.Completed)]
    public void An_answered_call_under_the_threshold_counts_as_short_duration(int? duration, ActionOutcome expected) =>
        Assert.Equal(expected, CallRetries.Effective(ActionOutcome.Completed, duration, Config()));

    [Fact]
    public void An_answered_call_is_never_short_when_short_duration_is_off_or_left_out()
    {
        var off = Config(retryOn: new RetryOn { ShortDuration = new ShortDurationRetry { Enabled = false, ThresholdSeconds = 60 } });
        Assert.Equal(ActionOutcome.Completed, CallRetries.Effective(ActionOutcome.Completed, 1, off));
        Assert.Equal(ActionOutcome.Completed, CallRetries.Effective(ActionOutcome.Completed, 1, Config(retryOn: new RetryOn())));
        Assert.Equal(ActionOutcome.Completed, CallRetries.Effective(ActionOutcome.Completed, 1, null));
        Assert.Equal(ActionOutcome.Busy, CallRetries.Effective(ActionOutcome.Busy, 1, Config()));
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 20)]
    [InlineData(3, 20)]
    public void The_interval_list_gives_attempt_n_plus_1_its_nth_value_and_its_last_value_repeats(int attempt, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), CallRetries.NextAttemptAfter(Config(maxRetries: 3, intervals: [10, 20]), ActionOutcome.Busy, attempt, 0));

    [Fact]
    public void A_list_longer_than_the_attempts_made_uses_only_its_first_values()
    {
        var config = Config(maxRetries: 5, intervals: [1, 2, 3, 4, 5]);
        Assert.Equal(TimeSpan.FromMinutes(1), CallRetries.NextAttemptAfter(config, ActionOutcome.NoAnswer, 1, 0));
        Assert.Equal(TimeSpan.FromMinutes(4), CallRetries.NextAttemptAfter(config, ActionOutcome.NoAnswer, 4, 0));
        Assert.Null(CallRetries.NextAttemptAfter(config, ActionOutcome.NoAnswer, 6, 0));
    }

    [Fact]
    public void With_no_interval_given_the_next_attempt_is_30_minutes_later() =>
        Assert.Equal(TimeSpan.FromMinutes(30), CallRetries.NextAttemptAfter(Config(intervals: null), ActionOutcome.ShortDuration, 1, 0));

    [Theory]
    [InlineData(3, 3, true)]
    [InlineData(3, 4, false)]
    [InlineData(0, 1, false)]
    [InlineData(null, 1, false)]
    public void Max_retries_counts_the_retries_already_made(int? maxRetries, int attempt, bool retried) =>
        Assert.Equal(retried, CallRetries.NextAttemptAfter(Config(maxRetries: maxRetries), ActionOutcome.Busy, attempt, 0) is not null);

    [Theory]
    [InlineData(ActionOutcome.Failed)]
    [InlineData(ActionOutcome.Completed)]
    public void A_disabled_outcome_and_an_answered_call_are_not_retried(ActionOutcome outcome) =>
        Assert.Null(CallRetries.NextAttemptAfter(Config(), outcome, 1, 0));

    [Fact]
    public void An_outcome_left_out_of_retry_on_or_no_retry_config_is_not_retried()
    {
        Assert.Null(CallRetries.NextAttemptAfter(Config(retryOn: new RetryOn { Busy = new RetryToggle { Enabled = true } }), ActionOutcome.NoAnswer, 1, 0));
        Assert.Null(CallRetries.NextAttemptAfter(null, ActionOutcome.Busy, 1, 0));
        Assert.Null(CallRetries.NextAttemptAfter(new RetryConfig { MaxRetries = 3 }, ActionOutcome.Busy, 1, 0));
    }

    [Fact]
    public void A_provider_error_uses_its_own_interval_and_stops_at_its_own_max_retries()
    {
        var config = Config(maxRetries: 10, intervals: [60]);
        Assert.Equal(TimeSpan.FromMinutes(5), CallRetries.NextAttemptAfter(config, ActionOutcome.ProviderError, 1, 0));
        Assert.Equal(TimeSpan.FromMinutes(5), CallRetries.NextAttemptAfter(config, ActionOutcome.ProviderError, 5, 1));
        Assert.Null(CallRetries.NextAttemptAfter(config, ActionOutcome.ProviderError, 5, 2));
    }

    [Fact]
    public void A_provider_error_also_stops_at_the_overall_max_retries() =>
        Assert.Null(CallRetries.NextAttemptAfter(Config(maxRetries: 1), ActionOutcome.ProviderError, 2, 0));

    [Fact]
    public void An_internal_error_without_its_own_max_retries_or_interval_has_the_overall_cap_and_30_minutes()
    {
        Assert.Equal(TimeSpan.FromMinutes(30), CallRetries.NextAttemptAfter(Config(maxRetries: 2, intervals: [7]), ActionOutcome.InternalError, 2, 1));
        Assert.Null(CallRetries.NextAttemptAfter(Config(maxRetries: 2), ActionOutcome.InternalError, 3, 2));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(50, 50, 1)]
    [InlineData(500, 500, 1)]
    [InlineData(2.5, 5, 2)]
    [InlineData(0.1, 1, 10)]
    [InlineData(0.3, 3, 10)]
    [InlineData(0.75, 3, 4)]
    [InlineData(0.123, 12, 100)]
    public void The_call_rate_is_a_whole_number_of_calls_in_the_shortest_whole_second_window(double perSecond, int calls, int seconds) =>
        Assert.Equal(new CampaignPlans.CallRate(calls, TimeSpan.FromSeconds(seconds)), CampaignPlans.CallRate.Of(perSecond));
}
