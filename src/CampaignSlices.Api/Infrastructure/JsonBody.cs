using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OneOf;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Reads a JSON request body and holds it against the shape of <typeparamref name="T"/> before it is
/// deserialized: syntax, unknown fields, duplicate keys, types, enum spellings, timestamp offsets,
/// nulls where none are allowed, and U+0000 in any string (PostgreSQL cannot store it). The first
/// problem is answered, keyed by its JSON path, in the service's own words.
/// </summary>
public static class JsonBody
{
    public sealed record Parsed<T>(T Value, JsonElement Json);

    private const string Root = "$";
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };

    public static async Task<OneOf<Parsed<T>, Invalid>> ReadAsync<T>(HttpRequest request, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty)
            return At(Root, "A JSON body is required.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, DocumentOptions);
        }
        catch (JsonException syntax)
        {
            return At(Root, $"The body is not valid JSON: parsing stopped at line {syntax.LineNumber + 1}, column {syntax.BytePositionInLine + 1}.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return At(Root, "The body must be a JSON object.");
            if (Check(root, typeof(T), Root, nullable: false) is { } problem)
                return problem;
            return new Parsed<T>(root.Deserialize<T>(Json.Options)!, root.Clone());
        }
    }

    /// <summary>The first way <paramref name="value"/> does not fit <paramref name="type"/>, or null.</summary>
    private static Invalid? Check(JsonElement value, Type type, string path, bool nullable)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return nullable || Nullable.GetUnderlyingType(type) is not null ? null : At(path, "Must not be null.");
        var target = Nullable.GetUnderlyingType(type) ?? type;
        var kind = value.ValueKind;
        if (target == typeof(string))
            return kind == JsonValueKind.String ? NoNul(value.GetString()!, path) : At(path, "Must be a string.");
        if (target == typeof(bool))
            return kind is JsonValueKind.True or JsonValueKind.False ? null : At(path, "Must be true or false.");
        if (target == typeof(int))
            return kind == JsonValueKind.Number && value.TryGetInt32(out _) ? null : At(path, "Must be a whole number.");
        if (target == typeof(double))
            return kind == JsonValueKind.Number ? null : At(path, "Must be a number.");
        if (target == typeof(Guid))
            return kind == JsonValueKind.String && value.TryGetGuid(out _) ? null : At(path, "Must be a UUID.");
        if (target == typeof(DateTimeOffset))
            return kind == JsonValueKind.String && Json.TryParseTimestamp(value.GetString(), out _) ? null : At(path, Json.TimestampExpected);
        if (target == typeof(DateOnly))
            return kind == JsonValueKind.String && DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                ? null : At(path, "Must be a date as YYYY-MM-DD.");
        if (target.IsEnum)
            return kind == JsonValueKind.String && Json.WireNames(target).Contains(value.GetString()!) ? null
                : At(path, $"Must be one of: {string.Join(", ", Json.WireNames(target))}.");
        if (typeof(JsonNode).IsAssignableFrom(target))
            return kind == JsonValueKind.Object || target != typeof(JsonObject) ? AnyNul(value, path) : At(path, "Must be an object.");
        if (DictionaryValueType(target) is { } valueType)
            return kind == JsonValueKind.Object ? CheckEntries(value, path, name => (valueType, true)) : At(path, "Must be an object.");
        if (ItemType(target) is { } itemType)
            return kind == JsonValueKind.Array ? CheckItems(value, itemType, path) : At(path, "Must be an array.");
        if (kind != JsonValueKind.Object)
            return At(path, "Must be an object.");
        var properties = Json.Options.GetTypeInfo(target).Properties.ToDictionary(property => property.Name, StringComparer.Ordinal);
        return CheckEntries(value, path, name => properties.TryGetValue(name, out var property) ? (property.PropertyType, property.IsSetNullable) : null);
    }

    private static Invalid? CheckEntries(JsonElement value, string path, Func<string, (Type Type, bool Nullable)?> shapeOf)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            var child = path == Root ? property.Name : $"{path}.{property.Name}";
            if (NoNul(property.Name, path) is { } nul)
                return nul;
            if (!seen.Add(property.Name))
                return At(child, "Duplicate key.");
            if (shapeOf(property.Name) is not var (type, nullable))
                return At(child, "Unknown field.");
            if (Check(property.Value, type, child, nullable) is { } problem)
                return problem;
        }
        return null;
    }

    private static Invalid? CheckItems(JsonElement array, Type itemType, string path)
    {
        var index = 0;
        foreach (var item in array.EnumerateArray())
            if (Check(item, itemType, $"{path}[{index++}]", nullable: false) is { } problem)
                return problem;
        return null;
    }

    private static Invalid? AnyNul(JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return NoNul(value.GetString()!, path);
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                    if ((NoNul(property.Name, path) ?? AnyNul(property.Value, $"{path}.{property.Name}")) is { } problem)
                        return problem;
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                    if (AnyNul(item, $"{path}[{index++}]") is { } problem)
                        return problem;
                return null;
            default:
                return null;
        }
    }

    private static Invalid At(string path, string message) =>
        new(new Dictionary<string, string[]> { [path] = [message] }, path == Root ? message : $"{path}: {message}");

    private static Invalid? NoNul(string text, string path) =>
        text.Contains('\0') ? At(path, "Must not contain the NUL character (U+0000).") : null;

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1] : null;

    private static Type? ItemType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
        : null;
}
