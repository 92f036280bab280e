using CampaignSlices.Api.Campaigns;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>The two status tables agree: every status a user action starts from has its change, with its event, in the list of changes.</summary>
public sealed class CampaignStatusRulesTests
{
    public static TheoryData<LifecycleAction> Actions => new(Enum.GetValues<LifecycleAction>());

    private static readonly Dictionary<LifecycleAction, CampaignEventType[]> EventsOf = new()
    {
        [LifecycleAction.Launch] = [CampaignEventType.LaunchRequested, CampaignEventType.Scheduled],
        [LifecycleAction.Pause] = [CampaignEventType.Paused],
        [LifecycleAction.Resume] = [CampaignEventType.Resumed],
        [LifecycleAction.Cancel] = [CampaignEventType.Cancelled],
    };

    [Theory]
    [MemberData(nameof(Actions))]
    public void Every_status_an_action_starts_from_has_a_change_recorded_by_its_event(LifecycleAction action)
    {
        var rule = CampaignStatusRules.Lifecycle[action];
        foreach (var from in rule.From)
            Assert.Contains(CampaignStatusRules.Changes, change => change.From == from && EventsOf[action].Contains(change.Event));
        // A status that counts as already done is never left by that action.
        foreach (var done in rule.AlreadyDone)
            Assert.DoesNotContain(CampaignStatusRules.Changes, change => change.From == done && EventsOf[action].Contains(change.Event) && change.To != done);
    }

    [Fact]
    public void A_change_the_table_does_not_list_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() =>
            CampaignStatusRules.Change(CampaignStatus.Completed, CampaignStatus.Active, CampaignEventType.Resumed));
        Assert.Throws<InvalidOperationException>(() =>
            CampaignStatusRules.Change(CampaignStatus.Active, CampaignStatus.Paused, CampaignEventType.HeldForReview));
    }

    [Fact]
    public void Every_change_leaves_its_status_for_another()
    {
        Assert.All(CampaignStatusRules.Changes, change => Assert.NotEqual(change.From, change.To));
        Assert.Equal(CampaignStatusRules.Changes.Count, CampaignStatusRules.Changes.Distinct().Count());
    }
}
