namespace CampaignSlices.Api.Campaigns;

public enum CampaignStatus { Draft, Launching, Scheduled, Active, Draining, Paused, Completed, Failed, Cancelled }

/// <summary>What each status allows, as data: the slices consult it and the tests walk it.</summary>
public static class CampaignStatusRules
{
    /// <summary>Only a draft may be deleted; anything launched keeps its history.</summary>
    public static readonly IReadOnlySet<CampaignStatus> Deletable = new HashSet<CampaignStatus> { CampaignStatus.Draft };
}
