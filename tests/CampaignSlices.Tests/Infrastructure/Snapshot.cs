using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CampaignSlices.Tests.Infrastructure;

/// <summary>
/// Compares a JSON body with <c>{Class}.{name}.verified.json</c> beside the calling test. GUIDs and
/// timestamps become stable tokens and trace ids a constant (the same value gets the same token), so a reviewer reads the
/// contract in the diff. On mismatch, or when no verified file exists, <c>*.received.json</c> is
/// written beside it (git-ignored) and the test fails; accept by renaming it.
/// </summary>
public static partial class Snapshot
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Match(string json, string name, [CallerFilePath] string testFile = "")
    {
        var scrubbed = Scrub(JsonNode.Parse(json));
        var text = scrubbed?.ToJsonString(Indented).ReplaceLineEndings("\n") + "\n";
        var directory = Path.GetDirectoryName(testFile)!;
        var stem = Path.Combine(directory, $"{Path.GetFileNameWithoutExtension(testFile)}.{name}");
        var verified = stem + ".verified.json";
        var received = stem + ".received.json";
        if (File.Exists(verified) && File.ReadAllText(verified).ReplaceLineEndings("\n") == text)
        {
            File.Delete(received);
            return;
        }
        File.WriteAllText(received, text);
        Assert.Fail(File.Exists(verified)
            ? $"Snapshot {name} differs from {verified}; see {received}."
            : $"No snapshot {verified} yet; review {received} and rename it to accept.");
    }

    public static async Task MatchAsync(HttpResponseMessage response, string name, [CallerFilePath] string testFile = "") =>
        Match(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), name, testFile);

    private static JsonNode? Scrub(JsonNode? root)
    {
        var tokens = new Dictionary<string, string>();
        return Visit(root);

        JsonNode? Visit(JsonNode? node) => node switch
        {
            JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key,
                p.Key == "trace_id" && p.Value is JsonValue ? JsonValue.Create("TraceId") : Visit(p.Value)))),
            JsonArray array => new JsonArray(array.Select(Visit).ToArray()),
            JsonValue value when value.TryGetValue<string>(out var text) => JsonValue.Create(ScrubText(text)),
            _ => node?.DeepClone(),
        };

        string ScrubText(string text)
        {
            text = GuidPattern().Replace(text, m => Token("Guid", m.Value));
            return TimestampPattern().Replace(text, m => Token("Timestamp", m.Value));
        }

        string Token(string kind, string value)
        {
            if (!tokens.TryGetValue(value, out var token))
            {
                token = $"{kind}_{tokens.Keys.Count(k => tokens[k].StartsWith(kind + "_", StringComparison.Ordinal)) + 1}";
                tokens[value] = token;
            }
            return token;
        }
    }

    [GeneratedRegex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial Regex GuidPattern();

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")]
    private static partial Regex TimestampPattern();
}
