// Imports a dataset from CSV streamed straight into binary COPY, or from JSON rows; all of it or nothing.
using System.Buffers;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CampaignSlices.Api.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Npgsql;
using NpgsqlTypes;

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

    public static async Task<Results<Created<DatasetResponse>, ProblemHttpResult>> Endpoint(
        HttpRequest request, [FromQuery] string? name, ClaimsPrincipal user, Handler handler, CancellationToken ct)
    {
        var contentType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed : null;
        var isCsv = contentType?.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase) == true;
        var isJson = contentType?.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) == true;
        if ((!isCsv && !isJson) || contentType!.Charset.HasValue && !contentType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            return Problems.UnsupportedMediaType("Send the dataset as text/csv (UTF-8, with a header line) or as application/json.");

        var result = isCsv
            ? await handler.ImportCsvAsync(name, request, user.UserId(), ct)
            : await handler.ImportJsonAsync(await ReadJsonAsync(request, ct), user.UserId(), ct);
        return result.Problem is { } problem
            ? problem
            : TypedResults.Created($"/api/v1/datasets/{result.Dataset!.DatasetId}", result.Dataset);
    }

    private static async Task<Request> ReadJsonAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<Request>(request.Body, Json.Options, ct)
                ?? throw new JsonException("The body must be a JSON object.");
        }
        catch (JsonException json)
        {
            // The service-wide problem mapping names the JSON path of the bad value.
            throw new BadHttpRequestException("The body is not valid JSON.", StatusCodes.Status400BadRequest, json);
        }
    }

    public sealed record Result(DatasetResponse? Dataset, ProblemHttpResult? Problem);

    /// <summary>Why an import stops; the transaction is rolled back and the reason answered.</summary>
    private sealed class Rejected(ProblemHttpResult problem) : Exception(problem.ProblemDetails.Detail)
    {
        public ProblemHttpResult Problem { get; } = problem;
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, Settings settings)
    {
        public async Task<Result> ImportCsvAsync(string? name, HttpRequest request, Guid userId, CancellationToken ct)
        {
            if (CheckName(name) is { } invalidName)
                return new Result(null, invalidName);
            if (request.ContentLength > settings.MaxBytes)
                return new Result(null, TooLarge());
            // The service-wide 1 MiB limit is for JSON; this body gets the import's own (the reader checks it too).
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = settings.MaxBytes;

            using var csv = new CsvRecordReader(request.Body, settings.MaxBytes);
            try
            {
                if (!await csv.ReadAsync(ct))
                    return new Result(null, Problems.Invalid("body", "The CSV is empty: its first line must name the columns."));
                var header = new string[csv.FieldCount];
                for (var i = 0; i < header.Length; i++)
                    header[i] = csv.FieldText(i)?.Trim() ?? "";
                var columns = Columns.From(header, "body");
                var values = new string?[columns.Names.Length];
                return await StoreAsync(name!, userId, columns, async () =>
                {
                    if (!await csv.ReadAsync(ct))
                        return null;
                    if (csv.FieldCount != values.Length)
                        throw new CsvFormatException(csv.RecordLine, $"has {csv.FieldCount} fields where the header has {values.Length}.");
                    for (var i = 0; i < values.Length; i++)
                        values[i] = csv.FieldText(i);
                    return values;
                }, ct);
            }
            catch (CsvFormatException malformed)
            {
                return new Result(null, TypedResults.Problem(detail: $"The CSV is malformed: {malformed.Message}", statusCode: 400,
                    extensions: new Dictionary<string, object?>
                    {
                        ["line"] = malformed.Line,
                        ["errors"] = new Dictionary<string, string[]> { ["body"] = [malformed.Message] },
                    }));
            }
            catch (Rejected rejected)
            {
                return new Result(null, rejected.Problem);
            }
            catch (Exception tooLarge) when (tooLarge is CsvTooLargeException or BadHttpRequestException { StatusCode: 413 })
            {
                return new Result(null, TooLarge());
            }
        }

        public async Task<Result> ImportJsonAsync(Request request, Guid userId, CancellationToken ct)
        {
            if (CheckName(request.Name) is { } invalidName)
                return new Result(null, invalidName);
            if (request.Rows is not { } rows)
                return new Result(null, Problems.Invalid("rows", "Required."));
            if (rows.Length > settings.MaxRows)
                return new Result(null, TooManyRows());
            if (Array.FindIndex(rows, row => row is null) is var nullRow and >= 0)
                return new Result(null, Problems.Invalid($"rows[{nullRow}]", "Must be an object of column names to text values."));
            // Columns in the order they first appear; a row may leave any of them out.
            var names = new List<string>();
            foreach (var row in rows)
                names.AddRange(row.Keys.Where(key => !names.Contains(key)));
            Columns columns;
            try
            {
                columns = Columns.From([.. names], "rows");
            }
            catch (Rejected rejected)
            {
                return new Result(null, rejected.Problem);
            }
            var values = new string?[names.Count];
            var next = 0;
            return await StoreAsync(request.Name!, userId, columns, () =>
            {
                if (next == rows.Length)
                    return ValueTask.FromResult<string?[]?>(null);
                var row = rows[next++];
                for (var i = 0; i < values.Length; i++)
                    values[i] = row.TryGetValue(names[i], out var value) && !string.IsNullOrEmpty(value) ? value : null;
                return ValueTask.FromResult<string?[]?>(values);
            }, ct);
        }

        /// <summary>One transaction: the dataset, then its rows by binary COPY, then its row count.</summary>
        private async Task<Result> StoreAsync(string name, Guid userId, Columns columns, Func<ValueTask<string?[]?>> nextRow, CancellationToken ct)
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
                while (await nextRow() is { } values)
                {
                    if (++rowCount > settings.MaxRows)
                        return new Result(null, TooManyRows());
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
            return new Result(new DatasetResponse(datasetId, name, rowCount, columns.Names, now), null);
        }

        private static ProblemHttpResult? CheckName(string? name) =>
            string.IsNullOrWhiteSpace(name) ? Problems.Invalid("name", "Required: name the dataset (query name= for CSV).")
            : name.Length > 255 ? Problems.Invalid("name", "Must be at most 255 characters.")
            : null;

        private ProblemHttpResult TooLarge() =>
            Problems.TooLarge($"The CSV is larger than the import's limit of {settings.MaxBytes} bytes.");

        private ProblemHttpResult TooManyRows() =>
            Problems.TooLarge($"The dataset has more than the import's limit of {settings.MaxRows} rows.");
    }

    /// <summary>The header's columns: known ones go to their own column, any other to the row's attributes.</summary>
    private sealed class Columns(string[] names, int[] knownIndexes, int[] attributeIndexes)
    {
        public string[] Names { get; } = names;

        /// <summary>For each known column in table order, its index among <see cref="Names"/>, or -1.</summary>
        public int[] KnownIndexes { get; } = knownIndexes;

        public static Columns From(string[] header, string errorKey)
        {
            var names = header.Select(name => DatasetColumns.Known.FirstOrDefault(known => known.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name).ToArray();
            if (names.Any(name => name.Length == 0))
                throw new Rejected(Problems.Invalid(errorKey, "Every column needs a name; a blank one was found."));
            if (names.GroupBy(name => name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(group => group.Count() > 1) is { } duplicate)
                throw new Rejected(Problems.Invalid(errorKey, $"The column '{duplicate.Key}' appears more than once (names are compared ignoring case)."));
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
