// Performs nothing: draws each action's outcome from the weighted mix, for trying the service out without a provider. An
// answered call (completed) also draws its length, which the service needs to tell a real conversation from a short one.
namespace CampaignSlices.Worker;

public sealed class SimulatedChannel(IReadOnlyList<SimulatedShare> mix, CallSeconds? callSeconds) : IChannel
{
    private readonly long _total = mix.Sum(share => (long)share.Weight);

    public Task<Performance> PerformAsync(Lease lease, CancellationToken ct)
    {
        var draw = Random.Shared.NextInt64(_total);
        foreach (var share in mix)
        {
            if (draw < share.Weight)
                return Task.FromResult(new Performance(share.Outcome, "simulated", $"simulated-{lease.ActionId}-{lease.Attempt}",
                    share.Outcome == "completed" && callSeconds is { } range ? Random.Shared.Next(range.Min, range.Max + 1) : null));
            draw -= share.Weight;
        }
        throw new InvalidOperationException("the mix's weights do not add up to its total");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
