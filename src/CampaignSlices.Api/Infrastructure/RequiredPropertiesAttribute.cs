namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Names the JSON properties a request body must carry, for the OpenAPI document. The properties
/// stay nullable in C# so that the validator, not the deserializer, reports every missing one at once.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiredPropertiesAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}

/// <summary>
/// An answer whose every property is always present: the OpenAPI document lists them all as required,
/// and those in <see cref="NeverNull"/> without the null their nullable C# type would give them.
/// </summary>
public interface IAlwaysPresent
{
    static abstract IReadOnlySet<string> NeverNull { get; }
}
