using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// Edits a JSON body in place at a path written as the service writes error keys
/// (`steps_config[1].variants[0].weight`), so a test case reads like the error it expects.
/// </summary>
public static partial class JsonPaths
{
    public static void Set(this JsonObject root, string path, JsonNode? value)
    {
        var (parent, last) = Parent(root, path);
        if (last.Index is int index)
            parent[last.Name]!.AsArray()[index] = value?.DeepClone();
        else
            parent.AsObject()[last.Name] = value?.DeepClone();
    }

    public static void Drop(this JsonObject root, string path)
    {
        var (parent, last) = Parent(root, path);
        if (last.Index is int index)
            parent[last.Name]!.AsArray().RemoveAt(index);
        else
            parent.AsObject().Remove(last.Name);
    }

    public static JsonNode? At(this JsonNode root, string path) =>
        Segments(path).Aggregate((JsonNode?)root, (node, segment) => Step(node, segment));

    public static JsonArray Repeat(int count, Func<int, JsonNode> item) => new(Enumerable.Range(0, count).Select(i => (JsonNode?)item(i)).ToArray());

    private static (JsonNode Parent, Segment Last) Parent(JsonObject root, string path)
    {
        var segments = Segments(path).ToList();
        var parent = segments[..^1].Aggregate((JsonNode?)root, (node, segment) => Step(node, segment))
            ?? throw new ArgumentException($"Nothing at the parent of {path}.");
        return (parent, segments[^1]);
    }

    private static JsonNode? Step(JsonNode? node, Segment segment)
    {
        var named = segment.Name.Length == 0 ? node : node?[segment.Name];
        return segment.Index is int index ? named?[index] : named;
    }

    private readonly record struct Segment(string Name, int? Index);

    private static IEnumerable<Segment> Segments(string path) =>
        SegmentPattern().Matches(path).Select(m => new Segment(m.Groups[1].Value, m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : null));

    [GeneratedRegex(@"([a-z_]+)(?:\[(\d+)\])?")]
    private static partial Regex SegmentPattern();
}
