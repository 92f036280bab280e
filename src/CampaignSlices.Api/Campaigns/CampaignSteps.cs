using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace CampaignSlices.Api.Campaigns;

public enum StepChannel { Email, Linkedin, Call }

public enum LinkedinAction { ConnectionRequest, Message, ProfileVisit, Follow, Inmail }

public enum VariantType { Template, Ai }

/// <summary>One step of the sequence; its delay counts from the previous step (from launch for the first).</summary>
public sealed record CampaignStep
{
    /// <summary>Set by the server to the step's 1-based position; a value sent is ignored.</summary>
    [Range(1, 10)] public int Step { get; init; }
    [Required] public StepChannel? Channel { get; init; }
    public int DelayDays { get; init; }
    public int DelayHours { get; init; }
    public int DelayMinutes { get; init; }
    public List<Variant> Variants { get; init; } = [];
    public bool AiPersonalizationEnabled { get; init; }
    public bool TrackClicks { get; init; }
    public LinkedinAction? ActionType { get; init; }
    public string? MessageTemplate { get; init; }

    [JsonIgnore]
    public int TotalDelayMinutes => DelayDays * 24 * 60 + DelayHours * 60 + DelayMinutes;
}

public sealed record Variant
{
    [Required] public string? Label { get; init; }
    [Required] public int? Weight { get; init; }
    [Required] public VariantType? Type { get; init; }
    public Guid? TemplateId { get; init; }
    public Guid? SenderProfileId { get; init; }
}
