using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CampaignSlices.Api.Campaigns;

/// <summary>The campaign is in a status that does not allow what was asked: 409 naming it.</summary>
public sealed record WrongStatus(CampaignStatus Status, string Detail)
{
    public ProblemHttpResult ToProblem() => Problems.Conflict(Detail,
        new Dictionary<string, string[]> { ["status"] = [$"The campaign is {Status.ToWire()}."] });
}

/// <summary>If-Match named another version than the stored one: 412.</summary>
public sealed record Stale(int Version)
{
    public ProblemHttpResult ToProblem() => Problems.PreconditionFailed($"If-Match does not match; the campaign is at {ETags.For(Version)}.");
}

public static class CampaignNotFound
{
    public static Missing For(Guid campaignId) => new("Campaign", campaignId);
}
