// The worker's own copy of the dispatch API's bodies, as far as it uses them. It is a client of the HTTP API, not of the
// service's code, so it reads only what it needs and ignores fields added later.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace CampaignSlices.Worker;

public sealed record Lease(Guid ActionId, Guid LeaseToken, DateTimeOffset LeaseExpiresAt, Guid CampaignId, int RowNumber, int Step, int Attempt,
    string Channel, string? ActionType, string? MessageTemplate, LeasedVariant? Variant, LeasedSender Sender, LeadRow Lead, LeaseSettings Settings);

public sealed record LeasedVariant(string Label, string Type, Guid? TemplateId);

/// <summary>An email alias or the LinkedIn account; only the one of the lease's channel is present.</summary>
public sealed record LeasedSender(string? AliasId, string? ConnectedAccountId);

/// <summary>The dataset row: its known columns and every other column by its header.</summary>
public sealed record LeadRow(string? Email, string? FirstName, string? LastName, string? Company, string? LinkedinUrl, string? Phone,
    JsonObject? Attributes);

public sealed record LeaseSettings(string? Signature);

public sealed record LeaseRequest(string Channel, int Max, int LeaseSeconds, int WaitSeconds);

public sealed record LeaseAnswer(List<Lease> Items);

public sealed record HeartbeatRequest(Guid LeaseToken, int LeaseSeconds);

public sealed record HeartbeatAnswer(Guid ActionId, DateTimeOffset LeaseExpiresAt);

public sealed record ReleaseRequest(Guid LeaseToken, int DelaySeconds);

public sealed record OutcomeReport(Guid ActionId, Guid LeaseToken, string Outcome, string? Detail, int? DurationSeconds, string? ProviderReference,
    DateTimeOffset? OccurredAt);

public sealed record OutcomesRequest(List<OutcomeReport> Items);

/// <summary>One report's answer: the status the single outcome endpoint would have given it, and its detail when that is not 200.</summary>
public sealed record OutcomeAnswer(Guid? ActionId, int Status, string? Outcome, string? LeadStatus, string? Detail);

public sealed record OutcomesAnswer(List<OutcomeAnswer> Items);

public static class Wire
{
    /// <summary>snake_case both ways; fields the worker does not set are left out rather than sent as null.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
