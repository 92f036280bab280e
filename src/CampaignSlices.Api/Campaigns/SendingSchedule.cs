using System.ComponentModel.DataAnnotations;

namespace CampaignSlices.Api.Campaigns;

public enum Weekday { Mon, Tue, Wed, Thu, Fri, Sat, Sun }

/// <summary>Per-weekday sending windows; a day left out sends nothing.</summary>
public sealed record OperatingHours
{
    public List<TimeWindow>? Mon { get; init; }
    public List<TimeWindow>? Tue { get; init; }
    public List<TimeWindow>? Wed { get; init; }
    public List<TimeWindow>? Thu { get; init; }
    public List<TimeWindow>? Fri { get; init; }
    public List<TimeWindow>? Sat { get; init; }
    public List<TimeWindow>? Sun { get; init; }

    public IEnumerable<(string Day, List<TimeWindow> Windows)> Days() =>
        new (string, List<TimeWindow>?)[] { ("mon", Mon), ("tue", Tue), ("wed", Wed), ("thu", Thu), ("fri", Fri), ("sat", Sat), ("sun", Sun) }
            .Where(day => day.Item2 is not null)
            .Select(day => (day.Item1, day.Item2!));
}

public sealed record TimeWindow
{
    [Required] public string? Start { get; init; }
    [Required] public string? End { get; init; }
}

/// <summary>A per-sender daily cap on an email campaign's actions.</summary>
public sealed record AccountLimit
{
    [Required] public string? AccountId { get; init; }
    [Required] public int? DailyLimit { get; init; }
}
