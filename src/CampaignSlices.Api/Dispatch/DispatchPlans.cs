namespace CampaignSlices.Api.Dispatch;

/// <summary>How PostgreSQL plans the dispatcher's prepared statements, and how its transactions end.</summary>
public static class DispatchPlans
{
    /// <summary>
    /// Prepended to a transaction's statements: from there on, its prepared statements run on the plan made once per
    /// connection. Left to choose, PostgreSQL planned each of the claim's and the outcome's statements afresh on every
    /// call (their array parameters make the generic plan's estimate look dearer), about 3 ms of planning per 100 actions.
    /// Not for the claim's candidate scan, whose generic plan is far worse than its custom one.
    /// </summary>
    public const string Generic = "set local plan_cache_mode = force_generic_plan;\n";

    /// <summary>
    /// The last statement of a transaction's last batch of writes: the commit rides in their round trip instead of one of its
    /// own (about 0.8 ms under dispatch load). Npgsql sees the transaction end (its NpgsqlTransaction then counts as
    /// completed, and disposing it does nothing); when a statement before it fails, the server skips the rest of the batch,
    /// the transaction stays open and aborted, and disposing the NpgsqlTransaction rolls it back, as before.
    /// </summary>
    public const string Commit = "commit";
}
