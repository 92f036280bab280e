using System.Text.Json.Serialization;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Campaigns;

/// <summary>
/// A stored campaign, as every campaign endpoint answers it: the client's fields with their
/// defaults applied, and what the server keeps about it.
/// </summary>
public sealed record Campaign : CampaignFields, IAlwaysPresent
{
    // The ids first and the server's own fields after the client's, as a reader expects them.
    [JsonPropertyOrder(-3)] public required Guid CampaignId { get; init; }
    [JsonPropertyOrder(-2)] public required Guid UserId { get; init; }
    public required CampaignStatus Status { get; init; }
    [JsonPropertyOrder(1)] public required string? PausedReason { get; init; }
    [JsonPropertyOrder(1)] public required int TotalLeads { get; init; }
    [JsonPropertyOrder(1)] public required int ProcessedLeads { get; init; }
    [JsonPropertyOrder(1)] public required string? LaunchJobId { get; init; }
    [JsonPropertyOrder(1)] public required DateTimeOffset? LaunchRequestedAt { get; init; }
    [JsonPropertyOrder(1)] public required DateTimeOffset? LaunchedAt { get; init; }
    [JsonPropertyOrder(1)] public required string? LaunchError { get; init; }
    [JsonPropertyOrder(1)] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyOrder(1)] public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Moves with every write of the row (a database trigger sees to it); its strong ETag is `"{version}"`.</summary>
    [JsonIgnore] public int Version { get; init; }

    /// <summary>Fields that always hold a value in an answer: those with a default or required at create.</summary>
    public static IReadOnlySet<string> NeverNull { get; } = FieldCatalogue.All.Where(field => !field.Clearable).Select(field => field.Name).ToHashSet();

    [JsonIgnore] public List<CampaignStep> Steps => StepsConfig!;
}
