using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

/// <summary>What became of an action: leased (a token holds or held it), released (given back), closed (an outcome came), cancelled.</summary>
public enum ActionState { Leased, Released, Closed, Cancelled }

/// <summary>A lead of a campaign as its owner reads it: where it is in the sequence, when it acts next, from which sender.</summary>
public record Lead : IAlwaysPresent
{
    public int RowNumber { get; init; }
    public LeadStatus Status { get; init; }
    public int CurrentStep { get; init; }
    public DateTimeOffset? NextActionAt { get; init; }

    /// <summary>The kept email alias, or for a LinkedIn campaign its account; null until the first action chose it.</summary>
    public string? Sender { get; init; }

    public ActionOutcome? LastOutcome { get; init; }
    public string? StopReason { get; init; }
    public string? Email { get; init; }
    public string? LinkedinUrl { get; init; }
    public string? Phone { get; init; }

    /// <summary>The lead's own IANA zone; null when it is read in the campaign's.</summary>
    public string? Timezone { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "row_number", "status", "current_step", "updated_at" };
}

/// <summary>How the lead reads find a campaign's leads: the owner's check and the columns of a <see cref="Lead"/>.</summary>
public static class LeadReads
{
    /// <summary>
    /// The columns of <see cref="Row"/> from `leads l`. Only email leads keep their sender on the row; a LinkedIn
    /// campaign's lead takes its account as sender with its first action, so its latest action names it.
    /// </summary>
    public const string Columns = """
        l.row_number, l.status, l.current_step, l.next_action_at,
        coalesce(l.sender_id, case when @SenderFromActions then
            (select a.sender_id from actions a where a.campaign_id = l.campaign_id and a.row_number = l.row_number
             order by a.step desc, a.attempt desc limit 1) end) as sender,
        l.last_outcome, l.stop_reason, l.email, l.linkedin_url, l.phone, l.timezone, l.updated_at
        """;

    /// <summary>The campaign's type when it is the caller's; null when it does not exist or is another user's.</summary>
    public static Task<string?> OwnedTypeAsync(NpgsqlConnection connection, Guid campaignId, Guid userId, CancellationToken ct) =>
        connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select type from campaigns where campaign_id = @campaignId and user_id = @userId", new { campaignId, userId }, cancellationToken: ct));

    /// <summary>Whether the leads of a campaign of this type find their sender in their actions (see <see cref="Columns"/>).</summary>
    public static bool SenderFromActions(string campaignType) => campaignType == CampaignType.Linkedin.ToWire();

    public sealed class Row
    {
        public int RowNumber { get; init; }
        public string Status { get; init; } = "";
        public int CurrentStep { get; init; }
        public DateTimeOffset? NextActionAt { get; init; }
        public string? Sender { get; init; }
        public string? LastOutcome { get; init; }
        public string? StopReason { get; init; }
        public string? Email { get; init; }
        public string? LinkedinUrl { get; init; }
        public string? Phone { get; init; }
        public string? Timezone { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }

        public T To<T>() where T : Lead, new() => new()
        {
            RowNumber = RowNumber,
            Status = (LeadStatus)Json.FromWire(typeof(LeadStatus), Status),
            CurrentStep = CurrentStep,
            NextActionAt = NextActionAt,
            Sender = Sender,
            LastOutcome = LastOutcome is null ? null : (ActionOutcome)Json.FromWire(typeof(ActionOutcome), LastOutcome),
            StopReason = StopReason,
            Email = Email,
            LinkedinUrl = LinkedinUrl,
            Phone = Phone,
            Timezone = Timezone,
            UpdatedAt = UpdatedAt,
        };
    }
}
