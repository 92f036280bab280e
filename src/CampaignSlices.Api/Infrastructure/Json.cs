using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>The wire format of every body: snake_case, string enums, strict about what it accepts.</summary>
public static class Json
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        // The web defaults match names in any case; the contract names fields in snake_case only, and
        // PATCH looks fields up by the names sent, so `Name` must be an unknown field, not a lookup miss.
        options.PropertyNameCaseInsensitive = false;
        options.DictionaryKeyPolicy = null;
        options.Converters.Add(new ExactEnumConverter());
        options.Converters.Add(new UtcTimestampConverter());
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.RespectNullableAnnotations = true;
    }

    public static readonly JsonSerializerOptions Options = Create(JsonUnmappedMemberHandling.Disallow);

    /// <summary>For what the service itself stored: a column or field added later must not break reading.</summary>
    public static readonly JsonSerializerOptions StoredOptions = Create(JsonUnmappedMemberHandling.Skip);

    private static JsonSerializerOptions Create(JsonUnmappedMemberHandling unmapped)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        options.UnmappedMemberHandling = unmapped;
        // Read-only with the default resolver, so JsonBody can read the shapes (GetTypeInfo) before any serialization.
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>An enum value as the wire and the database spell it: `launch_default`.</summary>
    public static string ToWire(this Enum value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>
    /// Enums as snake_case strings, read only in that exact spelling (the contract spells them lowercase, as written);
    /// the built-in converter, which does the writing, would also read `EMAIL`.
    /// </summary>
    private sealed class ExactEnumConverter : JsonConverterFactory
    {
        private readonly JsonStringEnumConverter _wire = new(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);

        public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(Exact<>).MakeGenericType(typeToConvert), _wire.CreateConverter(typeToConvert, options))!;

        private sealed class Exact<T>(JsonConverter wire) : JsonConverter<T> where T : struct, Enum
        {
            private readonly JsonConverter<T> _wire = (JsonConverter<T>)wire;

            public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            {
                if (reader.TokenType != JsonTokenType.String || !ByWireName(typeof(T)).ContainsKey(reader.GetString()!))
                    throw new JsonException();
                return _wire.Read(ref reader, typeToConvert, options);
            }

            public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => _wire.Write(writer, value, options);
        }
    }

    public const string TimestampExpected = "Must be an ISO 8601 timestamp with a time zone offset, e.g. 2026-01-31T09:00:00Z.";

    /// <summary>The enum value of <paramref name="enumType"/> spelled <paramref name="wire"/> (as stored by the service).</summary>
    public static object FromWire(Type enumType, string wire) => ByWireName(enumType)[wire];

    /// <summary>The exact snake_case spellings an enum is read in.</summary>
    public static IReadOnlyCollection<string> WireNames(Type enumType) => ByWireName(enumType).Keys;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, Dictionary<string, Enum>> EnumsByWireName = new();

    private static Dictionary<string, Enum> ByWireName(Type enumType) => EnumsByWireName.GetOrAdd(enumType,
        type => Enum.GetValues(type).Cast<Enum>().ToDictionary(value => value.ToWire(), StringComparer.Ordinal));

    /// <summary>An ISO 8601 timestamp that states its offset (`Z` or `±HH:MM`), as UTC.</summary>
    public static bool TryParseTimestamp(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) || !HasExplicitOffset(text))
            return false;
        value = parsed.ToUniversalTime();
        return true;
    }

    private static bool HasExplicitOffset(string text) =>
        text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');

    /// <summary>Timestamps go out as UTC with a Z and come in with any explicit offset.</summary>
    private sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            TryParseTimestamp(reader.GetString(), out var value) ? value : throw new JsonException(TimestampExpected);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", CultureInfo.InvariantCulture));
    }
}
