namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// An answer whose every property is always present: the OpenAPI document lists them all as required,
/// and those in <see cref="NeverNull"/> without the null their nullable C# type would give them.
/// </summary>
public interface IAlwaysPresent
{
    static abstract IReadOnlySet<string> NeverNull { get; }
}
