namespace CampaignSlices.Api.Dispatch;

/// <summary>How PostgreSQL plans the dispatcher's prepared statements.</summary>
public static class DispatchPlans
{
    /// <summary>
    /// Prepended to a transaction's statements: from there on, its prepared statements run on the plan made once per
    /// connection. Left to choose, PostgreSQL planned each of the claim's and the outcome's statements afresh on every
    /// call (their array parameters make the generic plan's estimate look dearer), about 3 ms of planning per 100 actions.
    /// Not for the claim's candidate scan, whose generic plan is far worse than its custom one.
    /// </summary>
    public const string Generic = "set local plan_cache_mode = force_generic_plan;\n";
}
