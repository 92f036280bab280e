// Imports a dataset from CSV streamed straight into binary COPY, or from JSON rows; all of it or nothing.
using System.Buffers;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Mediator;
using Microsoft.Net.Http.Headers;
using Npgsql;
using NpgsqlTypes;
using OneOf;
using OneOf.Types;

namespace CampaignSlices.Api.Datasets;

public static class ImportDataset
{
    [RequiredProperties("name", "rows")]
    public sealed record Request(string? Name, Dictionary<string, string?>[]? Rows);

    /// <summary>Limits of one import; a JSON body stays under the service-wide JSON limit as well.</summary>
    public sealed class Settings
    {
        public int MaxRows { get; init; } = 1_000_000;
        public long MaxBytes { get; init; } = 256L * 1024 * 1024;

        public static Settings Read(IConfiguration configuration)
        {
            var settings = configuration.GetSection("Datasets").Get<Settings>() ?? new Settings();
            if (settings.MaxRows < 1 || settings.MaxBytes < 1)
                throw new ConfigurationException("Datasets:MaxRows and Datasets:MaxBytes must be positive (e.g. the Datasets__MaxRows and Datasets__MaxBytes environment variables).");
            return settings;
        }
    }

    /// <summary>An import: the rows as a CSV stream, or as JSON rows already read.</summary>
    public sealed record Command(Guid UserId, string? Name, Stream? Csv, long? ContentLength, Dictionary<string, string?>[]? Rows)
        : ICommand<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>>;

    /// <summary>The CSV breaks its format: 400 naming the physical line.</summary>
    public sealed record MalformedCsv(long Line, string Problem)
    {
        public ProblemHttpResult ToProblem() => TypedResults.Problem(detail: $"The CSV is malformed: Line {Line} {Problem}", statusCode: 400,
            extensions: new Dictionary<string, object?>
            {
                ["line"] = Line,
                ["errors"] = new Dictionary<string, string[]> { ["body"] = [$"Line {Line} {Problem}"] },
            });
    }

    /// <summary>Over one of the import's limits: 413.</summary>
    public sealed record TooLarge(string Detail)
    {
        public ProblemHttpResult ToProblem() => Problems.TooLarge(Detail);
    }

    public static async Task<Results<Created<DatasetResponse>, ProblemHttpResult>> Endpoint(
        HttpRequest request, [FromQuery] string? name, ClaimsPrincipal user, ISender sender, Settings settings, CancellationToken ct)
    {
        var contentType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed : null;
        var isCsv = contentType?.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase) == true;
        var isJson = contentType?.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) == true;
        if ((!isCsv && !isJson) || contentType!.Charset.HasValue && !contentType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            return Problems.UnsupportedMediaType("Send the dataset as text/csv (UTF-8, with a header line) or as application/json.");

        Command command;
        if (isCsv)
        {
            // The service-wide 1 MiB limit is for JSON; this body gets the import's own (the reader checks it too).
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = settings.MaxBytes;
            command = new Command(user.UserId(), name, request.Body, request.ContentLength, null);
        }
        else
        {
            var body = await JsonBody.ReadAsync<Request>(request, ct);
            if (body.TryPickT1(out var unreadable, out var rows))
                return unreadable.ToProblem();
            command = new Command(user.UserId(), rows.Value.Name, null, null, rows.Value.Rows);
        }
        return (await sender.Send(command, ct)).Match<Results<Created<DatasetResponse>, ProblemHttpResult>>(
            dataset => TypedResults.Created($"/api/v1/datasets/{dataset.DatasetId}", dataset),
            invalid => invalid.ToProblem(),
            malformed => malformed.ToProblem(),
            tooLarge => tooLarge.ToProblem());
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, Settings settings)
        : ICommandHandler<Command, OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>>
    {
        public async ValueTask<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>> Handle(Command command, CancellationToken ct) =>
            command.Csv is { } csv ? await ImportCsvAsync(command, csv, ct) : await ImportJsonAsync(command, ct);

        private async Task<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>> ImportCsvAsync(Command command, Stream body, CancellationToken ct)
        {
            if (CheckName(command.Name) is { } invalidName)
                return invalidName;
            if (command.ContentLength > settings.MaxBytes)
                return CsvTooLarge();

            using var csv = new CsvRecordReader(body, settings.MaxBytes);
            try
            {
                if (!await csv.ReadAsync(ct))
                    return Invalid.At("body", "The CSV is empty: its first line must name the columns.");
                var header = new string[csv.FieldCount];
                for (var i = 0; i < header.Length; i++)
                    header[i] = csv.FieldText(i)?.Trim() ?? "";
                if (!Columns.From(header, "body").TryPickT0(out var columns, out var badHeader))
                    return badHeader;
                var values = new string?[columns.Names.Length];
                var stored = await StoreAsync(command.Name!, command.UserId, columns, async () =>
                {
                    if (!await csv.ReadAsync(ct))
                        return new None();
                    if (csv.FieldCount != values.Length)
                        return new MalformedCsv(csv.RecordLine, $"has {csv.FieldCount} fields where the header has {values.Length}.");
                    for (var i = 0; i < values.Length; i++)
                        values[i] = csv.FieldText(i);
                    return values;
                }, ct);
                return stored.Match<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>>(dataset => dataset, malformed => malformed, tooLarge => tooLarge);
            }
            catch (CsvFormatException malformed)
            {
                return new MalformedCsv(malformed.Line, malformed.Problem);
            }
            catch (Exception tooLarge) when (tooLarge is CsvTooLargeException or BadHttpRequestException { StatusCode: 413 })
            {
                return CsvTooLarge();
            }
        }

        private async Task<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>> ImportJsonAsync(Command command, CancellationToken ct)
        {
            if (CheckName(command.Name) is { } invalidName)
                return invalidName;
            if (command.Rows is not { } rows)
                return Invalid.At("rows", "Required.");
            if (rows.Length > settings.MaxRows)
                return TooManyRows();
            // Columns in the order they first appear; a row may leave any of them out.
            var names = new List<string>();
            foreach (var row in rows)
                names.AddRange(row.Keys.Where(key => !names.Contains(key)));
            if (!Columns.From([.. names], "rows").TryPickT0(out var columns, out var badColumns))
                return badColumns;
            var values = new string?[names.Count];
            var next = 0;
            var stored = await StoreAsync(command.Name!, command.UserId, columns, () =>
            {
                if (next == rows.Length)
                    return ValueTask.FromResult<OneOf<string?[], None, MalformedCsv>>(new None());
                var row = rows[next++];
                for (var i = 0; i < values.Length; i++)
                    values[i] = row.TryGetValue(names[i], out var value) && !string.IsNullOrEmpty(value) ? value : null;
                return ValueTask.FromResult<OneOf<string?[], None, MalformedCsv>>(values);
            }, ct);
            return stored.Match<OneOf<DatasetResponse, Invalid, MalformedCsv, TooLarge>>(dataset => dataset, malformed => malformed, tooLarge => tooLarge);
        }

        /// <summary>One transaction: the dataset, then its rows by binary COPY, then its row count.</summary>
        private async Task<OneOf<DatasetResponse, MalformedCsv, TooLarge>> StoreAsync(
            string name, Guid userId, Columns columns, Func<ValueTask<OneOf<string?[], None, MalformedCsv>>> nextRow, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            now = now.AddTicks(-(now.Ticks % 10)); // the microseconds PostgreSQL keeps, so GET answers the same
            var datasetId = Guid.CreateVersion7(now);
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var insert = new NpgsqlCommand(InsertSql, connection, transaction))
            {
                insert.Parameters.AddWithValue("dataset_id", datasetId);
                insert.Parameters.AddWithValue("user_id", userId);
                insert.Parameters.AddWithValue("name", name);
                insert.Parameters.AddWithValue("columns", columns.Names);
                insert.Parameters.AddWithValue("now", now);
                await insert.ExecuteNonQueryAsync(ct);
            }

            var rowCount = 0;
            var attributes = new ArrayBufferWriter<byte>();
            // Leaving this block without CompleteAsync cancels the COPY; the transaction then rolls back.
            await using (var importer = await connection.BeginBinaryImportAsync(CopySql, ct))
            {
                while (true)
                {
                    var next = await nextRow();
                    if (next.IsT1)
                        break;
                    if (next.TryPickT2(out var malformed, out _))
                        return malformed;
                    var values = next.AsT0;
                    if (++rowCount > settings.MaxRows)
                        return TooManyRows();
                    await importer.StartRowAsync(ct);
                    await importer.WriteAsync(datasetId, NpgsqlDbType.Uuid, ct);
                    await importer.WriteAsync(rowCount, NpgsqlDbType.Integer, ct);
                    foreach (var index in columns.KnownIndexes)
                    {
                        if (index < 0 || values[index] is not { } value)
                            await importer.WriteNullAsync(ct);
                        else
                            await importer.WriteAsync(value, NpgsqlDbType.Text, ct);
                    }
                    if (columns.AttributesJson(values, attributes) is { } json)
                        await importer.WriteAsync(json, NpgsqlDbType.Jsonb, ct);
                    else
                        await importer.WriteNullAsync(ct);
                }
                await importer.CompleteAsync(ct);
            }

            await using (var count = new NpgsqlCommand(CountSql, connection, transaction))
            {
                count.Parameters.AddWithValue("dataset_id", datasetId);
                count.Parameters.AddWithValue("row_count", rowCount);
                await count.ExecuteNonQueryAsync(ct);
            }
            await transaction.CommitAsync(ct);
            return new DatasetResponse(datasetId, name, rowCount, columns.Names, now);
        }

        private static Invalid? CheckName(string? name) =>
            string.IsNullOrWhiteSpace(name) ? Invalid.At("name", "Required: name the dataset (query name= for CSV).")
            : name.Length > 255 ? Invalid.At("name", "Must be at most 255 characters.")
            : name.Contains('\0') ? Invalid.At("name", "Must not contain the NUL character (U+0000).")
            : null;

        private TooLarge CsvTooLarge() => new($"The CSV is larger than the import's limit of {settings.MaxBytes} bytes.");

        private TooLarge TooManyRows() => new($"The dataset has more than the import's limit of {settings.MaxRows} rows.");
    }

    /// <summary>The header's columns: known ones go to their own column, any other to the row's attributes.</summary>
    private sealed class Columns(string[] names, int[] knownIndexes, int[] attributeIndexes)
    {
        public string[] Names { get; } = names;

        /// <summary>For each known column in table order, its index among <see cref="Names"/>, or -1.</summary>
        public int[] KnownIndexes { get; } = knownIndexes;

        public static OneOf<Columns, Invalid> From(string[] header, string errorKey)
        {
            var names = header.Select(name => DatasetColumns.Known.FirstOrDefault(known => known.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name).ToArray();
            if (names.Any(name => name.Length == 0))
                return Invalid.At(errorKey, "Every column needs a name; a blank one was found.");
            if (names.GroupBy(name => name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(group => group.Count() > 1) is { } duplicate)
                return Invalid.At(errorKey, $"The column '{duplicate.Key}' appears more than once (names are compared ignoring case).");
            return new Columns(names, [.. DatasetColumns.Known.Select(known => Array.IndexOf(names, known))],
                [.. Enumerable.Range(0, names.Length).Where(i => !DatasetColumns.Known.Contains(names[i]))]);
        }

        /// <summary>The row's non-empty custom values as a JSON object, or null when there are none.</summary>
        public string? AttributesJson(string?[] values, ArrayBufferWriter<byte> scratch)
        {
            if (!attributeIndexes.Any(i => values[i] is not null))
                return null;
            scratch.ResetWrittenCount();
            using (var writer = new Utf8JsonWriter(scratch))
            {
                writer.WriteStartObject();
                foreach (var i in attributeIndexes.Where(i => values[i] is not null))
                    writer.WriteString(Names[i], values[i]);
                writer.WriteEndObject();
            }
            return Encoding.UTF8.GetString(scratch.WrittenSpan);
        }
    }

    private const string InsertSql = """
        insert into datasets (dataset_id, user_id, name, row_count, columns, created_at)
        values (@dataset_id, @user_id, @name, 0, @columns, @now)
        """;

    private const string CopySql = """
        copy dataset_rows (dataset_id, row_number, email, first_name, last_name, company, linkedin_url, phone, attributes)
        from stdin (format binary)
        """;

    private const string CountSql = "update datasets set row_count = @row_count where dataset_id = @dataset_id";
}
