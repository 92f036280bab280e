// What performing one leased action came to, and the channels that perform them.
namespace CampaignSlices.Worker;

/// <summary>
/// The action was done (or judged done) with this outcome to report, or, when <see cref="Outcome"/> is null, it failed in a way
/// that may pass (the mail server could not be reached): the action is given back to be offered again later.
/// <see cref="DurationSeconds"/> is an answered call's length; without it the time taken to perform the action is reported.
/// </summary>
public sealed record Performance(string? Outcome, string? Detail, string? ProviderReference = null, int? DurationSeconds = null)
{
    public static Performance Sent(string? providerReference) => new("sent", null, providerReference);
    public static Performance Bounced(string detail) => new("bounced", detail);
    public static Performance Failed(string detail) => new("failed", detail);
    public static Performance GiveBack(string detail) => new(null, detail);
}

public interface IChannel : IAsyncDisposable
{
    Task<Performance> PerformAsync(Lease lease, CancellationToken ct);
}
