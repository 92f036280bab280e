using System.Collections;
using System.Data.Common;
using System.Reflection;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Campaigns;

/// <summary>Declares a client-settable campaign field (on <see cref="CampaignFields"/>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FieldAttribute(FieldGroup group) : Attribute
{
    /// <summary>The PATCH group: which statuses may change the field.</summary>
    public FieldGroup Group { get; } = group;

    /// <summary>
    /// The value, as JSON, that create stores when the field is left out or null (a <see cref="Clearable"/> field sent
    /// as null stays null); none: required or nullable.
    /// </summary>
    public string? Default { get; init; }

    /// <summary>Whether PATCH may clear it with an explicit null (and answers may hold null).</summary>
    public bool Clearable { get; init; }

    /// <summary>The column, when it is not named as the JSON field.</summary>
    public string? Column { get; init; }
}

/// <summary>How a field's value travels to and from its column.</summary>
public enum ColumnKind { Scalar, Timestamp, Enum, EnumList, TextList, DateList, Document }

/// <summary>One client-settable field: its wire name, column, PATCH group, default, and how it is stored.</summary>
public sealed class CampaignField
{
    private readonly PropertyInfo _property;
    private readonly Type _valueType;
    private readonly string? _defaultJson;

    internal CampaignField(PropertyInfo property, FieldAttribute declared)
    {
        _property = property;
        _valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        Name = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
        Column = declared.Column ?? Name;
        Group = declared.Group;
        Clearable = declared.Clearable;
        _defaultJson = declared.Default;
        if (_defaultJson is not null)
            NewDefault();
        Kind = _valueType == typeof(DateTimeOffset) ? ColumnKind.Timestamp
            : _valueType.IsEnum ? ColumnKind.Enum
            : _valueType == typeof(List<string>) ? ColumnKind.TextList
            : _valueType == typeof(List<DateOnly>) ? ColumnKind.DateList
            : _valueType.IsGenericType && _valueType.GetGenericArguments()[0].IsEnum ? ColumnKind.EnumList
            : _valueType.IsPrimitive || _valueType == typeof(string) || _valueType == typeof(Guid) ? ColumnKind.Scalar
            : ColumnKind.Document;
    }

    public string Name { get; }
    public string Column { get; }
    public FieldGroup Group { get; }
    public bool Clearable { get; }
    public bool HasDefault => _defaultJson is not null;
    public ColumnKind Kind { get; }

    /// <summary>The SQL that reads this field's parameter (named as the field, never from input); documents travel as text.</summary>
    public string Parameter => Kind == ColumnKind.Document ? $"cast(@{Name} as jsonb)" : $"@{Name}";

    /// <summary>A fresh instance of the default (lists are mutable), read from its declaration.</summary>
    public object? NewDefault() => _defaultJson is null ? null : JsonSerializer.Deserialize(_defaultJson, _property.PropertyType, Json.Options);

    public object? ValueOf(CampaignFields fields) => _property.GetValue(fields);

    internal void Set(CampaignFields fields, object? value) => _property.SetValue(fields, value);

    /// <summary>The value as its column takes it.</summary>
    public object? ColumnValue(CampaignFields fields) => ValueOf(fields) switch
    {
        null => null,
        DateTimeOffset timestamp => timestamp.ToUniversalTime(),
        Enum value => value.ToWire(),
        List<string> texts => texts.ToArray(),
        List<DateOnly> dates => dates.ToArray(),
        IEnumerable values when Kind == ColumnKind.EnumList => values.Cast<Enum>().Select(value => value.ToWire()).ToArray(),
        var value when Kind == ColumnKind.Document => JsonSerializer.Serialize(value, _property.PropertyType, Json.Options),
        var value => value,
    };

    /// <summary>The field's value from its column at <paramref name="ordinal"/>.</summary>
    public object? Read(DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
            return null;
        switch (Kind)
        {
            case ColumnKind.Timestamp:
                return reader.GetFieldValue<DateTimeOffset>(ordinal);
            case ColumnKind.Enum:
                return Json.FromWire(_valueType, reader.GetString(ordinal));
            case ColumnKind.TextList:
                return reader.GetFieldValue<string[]>(ordinal).ToList();
            case ColumnKind.DateList:
                return reader.GetFieldValue<DateOnly[]>(ordinal).ToList();
            case ColumnKind.EnumList:
                var list = (IList)Activator.CreateInstance(_valueType)!;
                foreach (var text in reader.GetFieldValue<string[]>(ordinal))
                    list.Add(Json.FromWire(_valueType.GetGenericArguments()[0], text));
                return list;
            case ColumnKind.Document:
                return JsonSerializer.Deserialize(reader.GetString(ordinal), _property.PropertyType, Json.StoredOptions);
            default:
                return reader.GetValue(ordinal);
        }
    }
}

/// <summary>Every field of <see cref="CampaignFields"/>, read once from their declarations.</summary>
public static class FieldCatalogue
{
    public static readonly IReadOnlyList<CampaignField> All = typeof(CampaignFields)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(property => property.DeclaringType == typeof(CampaignFields) && property.CanWrite)
        .Select(property => property.GetCustomAttribute<FieldAttribute>() is { } declared
            ? new CampaignField(property, declared)
            : throw new InvalidOperationException($"CampaignFields.{property.Name} has no [Field] declaration."))
        .ToList();

    public static readonly IReadOnlyDictionary<string, CampaignField> ByName = All.ToDictionary(field => field.Name, StringComparer.Ordinal);

    /// <summary>
    /// A copy of <paramref name="fields"/> with each field left out given its default, then normalized; a clearable
    /// field named in <paramref name="sentNull"/> (sent as an explicit null) keeps its null.
    /// </summary>
    public static CampaignFields WithDefaults(CampaignFields fields, IReadOnlySet<string>? sentNull = null)
    {
        var copy = fields with { };
        foreach (var field in All.Where(field => field.HasDefault && field.ValueOf(copy) is null
                     && !(field.Clearable && sentNull?.Contains(field.Name) == true)))
            field.Set(copy, field.NewDefault());
        return copy.Normalized();
    }
}
