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
