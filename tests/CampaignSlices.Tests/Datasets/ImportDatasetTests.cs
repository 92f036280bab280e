using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Npgsql;

namespace CampaignSlices.Tests.Datasets;

public sealed class ImportDatasetTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private readonly Guid _user = Guid.NewGuid();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Imports_quoted_commas_and_newlines_doubled_quotes_crlf_bom_and_non_ascii()
    {
        var csv = "\uFEFFemail,first_name,Company,note\r\n"
            + "ana@example.com,Ana,\"Acme, Inc.\",\"first line\r\nsecond line\"\r\n"
            + "zoe@example.com,Zoë,\"The \"\"Best\"\" Co\",日本語 ✓\r\n";
        var response = await PostCsvAsync(api.ClientFor(_user), Encoding.UTF8.GetBytes(csv), "spring leads");

        var body = await ReadCreatedAsync(response);
        Assert.Equal(["email", "first_name", "company", "note"], body["columns"]!.AsArray().Select(c => (string)c!));
        Assert.Equal(2, (int)body["row_count"]!);
        Assert.Equal($"/api/v1/datasets/{body["dataset_id"]}", response.Headers.Location!.OriginalString);
        var rows = await RowsAsync((Guid)body["dataset_id"]!);
        Assert.Equal(new Row(1, "ana@example.com", "Ana", "Acme, Inc.", """{"note": "first line\r\nsecond line"}"""), rows[0]);
        Assert.Equal(new Row(2, "zoe@example.com", "Zoë", "The \"Best\" Co", """{"note": "日本語 ✓"}"""), rows[1]);
        Snapshot.Match(body.ToJsonString(), "created");
    }

    [Fact]
    public async Task Keeps_custom_columns_as_attributes_and_known_ones_whatever_their_case()
    {
        var csv = "EMAIL,Last_Name,plan,seats,phone\nbo@example.com,Berg,pro,,+4670000000\nal@example.com,,,,\n";
        var body = await ReadCreatedAsync(await PostCsvAsync(api.ClientFor(_user), Encoding.UTF8.GetBytes(csv), "custom"));

        Assert.Equal(["email", "last_name", "plan", "seats", "phone"], body["columns"]!.AsArray().Select(c => (string)c!));
        await using var connection = await api.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(
            "select row_number, email, last_name, phone, attributes::text from dataset_rows where dataset_id = @id order by row_number", connection);
        command.Parameters.AddWithValue("id", (Guid)body["dataset_id"]!);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal(("bo@example.com", "Berg", "+4670000000", """{"plan": "pro"}"""),
            (reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        Assert.True(await reader.ReadAsync(Ct));
        // Empty fields are stored as no value, so preflight treats them as missing.
        Assert.Equal(("al@example.com", true, true, true), (reader.GetString(1), reader.IsDBNull(2), reader.IsDBNull(3), reader.IsDBNull(4)));
    }

    [Fact]
    public async Task A_header_alone_makes_an_empty_dataset()
    {
        var body = await ReadCreatedAsync(await PostCsvAsync(api.ClientFor(_user), "email,phone\r\n"u8.ToArray(), "empty"));
        Assert.Equal(0, (int)body["row_count"]!);
        Assert.Equal(["email", "phone"], body["columns"]!.AsArray().Select(c => (string)c!));
    }

    [Fact]
    public async Task Blank_lines_and_a_missing_final_line_end_are_accepted()
    {
        var body = await ReadCreatedAsync(await PostCsvAsync(api.ClientFor(_user), "email\n\na@example.com\n\nb@example.com"u8.ToArray(), "blank lines"));
        Assert.Equal(2, (int)body["row_count"]!);
        Assert.Equal(["a@example.com", "b@example.com"], (await RowsAsync((Guid)body["dataset_id"]!)).Select(r => r.Email));
    }

    [Fact]
    public async Task Reading_a_dataset_answers_the_same_object_and_another_users_is_not_found()
    {
        var created = await ReadCreatedAsync(await PostCsvAsync(api.ClientFor(_user), "email\na@example.com\n"u8.ToArray(), "mine"));
        var url = $"/api/v1/datasets/{created["dataset_id"]}";

        var mine = await api.ClientFor(_user).GetAsync(url, Ct);
        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        Assert.Equal(created.ToJsonString(), (await mine.Content.ReadFromJsonAsync<JsonObject>(Ct))!.ToJsonString());
        var theirs = await api.ClientFor().GetAsync(url, Ct);
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        Assert.Equal("application/problem+json", theirs.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Imports_json_rows_with_columns_in_order_of_first_appearance()
    {
        var request = new JsonObject
        {
            ["name"] = "from json",
            ["rows"] = new JsonArray(
                new JsonObject { ["email"] = "a@example.com", ["first_name"] = "Ann" },
                new JsonObject { ["email"] = "b@example.com", ["tier"] = "gold", ["company"] = null }),
        };
        var body = await ReadCreatedAsync(await api.ClientFor(_user).PostAsJsonAsync("/api/v1/datasets", request, Ct));

        Assert.Equal("from json", (string?)body["name"]);
        Assert.Equal(["email", "first_name", "tier", "company"], body["columns"]!.AsArray().Select(c => (string)c!));
        var rows = await RowsAsync((Guid)body["dataset_id"]!);
        Assert.Equal([new Row(1, "a@example.com", "Ann", null, null), new Row(2, "b@example.com", null, null, """{"tier": "gold"}""")], rows);
    }

    [Theory]
    [InlineData("""{"name":"x","rows":[{"email":1}]}""", "rows[0].email")]
    [InlineData("""{"rows":[]}""", "name")]
    [InlineData("""{"name":"x"}""", "rows")]
    [InlineData("""{"name":"x","rows":[{"email":"a@example.com","Email":"b@example.com"}]}""", "rows")]
    [InlineData("""{"name":"x","rows":[],"extra":true}""", "extra")]
    public async Task Invalid_json_rows_are_400_naming_the_field_and_leave_nothing(string json, string field)
    {
        var response = await api.ClientFor(_user).PostAsync("/api/v1/datasets", new StringContent(json, Encoding.UTF8, "application/json"), Ct);
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(field, problem["errors"]!.AsObject().Select(e => e.Key));
        await AssertNoDatasetAsync();
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("\uFEFF", "empty")]
    [InlineData("\r\n\r\n", "empty")]
    [InlineData("email,email\nx@example.com,y@example.com\n", "more than once")]
    [InlineData("email,Email\n", "more than once")]
    [InlineData("email,,phone\n", "needs a name")]
    public async Task A_csv_without_a_usable_header_is_400_and_leaves_nothing(string csv, string expected)
    {
        var problem = await ReadProblemAsync(await PostCsvAsync(api.ClientFor(_user), Encoding.UTF8.GetBytes(csv), "bad"), HttpStatusCode.BadRequest);
        Assert.Contains(expected, (string?)problem["detail"]);
        Assert.Equal(["body"], problem["errors"]!.AsObject().Select(e => e.Key));
        await AssertNoDatasetAsync();
    }

    [Fact]
    public async Task An_unclosed_quote_is_400_naming_the_line_it_opens_on()
    {
        var csv = "email,note\r\na@example.com,\"two\r\nlines\"\r\nb@example.com,\"never closed\r\nc@example.com,ok\r\n";
        var response = await PostCsvAsync(api.ClientFor(_user), Encoding.UTF8.GetBytes(csv), "unclosed");
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(4, (int)problem["line"]!);
        Snapshot.Match(problem.ToJsonString(), "unclosed-quote");
        await AssertNoDatasetAsync();
    }

    [Theory]
    [InlineData("email,phone\na@example.com,1\nb@example.com\n", 3, "has 1 fields where the header has 2")]
    [InlineData("email,phone\na@example.com,1,extra\n", 2, "has 3 fields where the header has 2")]
    [InlineData("email,note\n\"a\r\nb\",x\nb@example.com,O\"Brien\n", 4, "quote inside an unquoted field")]
    [InlineData("email,note\na@example.com,\"quoted\"tail\n", 2, "text after the closing quote")]
    [InlineData("email\na@example.com\nb\0@example.com\n", 3, "NUL")]
    public async Task A_malformed_row_is_400_naming_its_line_and_leaves_nothing(string csv, int line, string expected)
    {
        var problem = await ReadProblemAsync(await PostCsvAsync(api.ClientFor(_user), Encoding.UTF8.GetBytes(csv), "bad"), HttpStatusCode.BadRequest);
        Assert.Equal(line, (int)problem["line"]!);
        Assert.Contains($"Line {line} ", (string?)problem["detail"]);
        Assert.Contains(expected, (string?)problem["detail"]);
        await AssertNoDatasetAsync();
    }

    [Fact]
    public async Task Text_that_is_not_utf8_is_400_naming_its_line()
    {
        byte[] latin1 = [.. "email,first_name\na@example.com,Zo"u8, 0xEB, (byte)'\n'];
        var problem = await ReadProblemAsync(await PostCsvAsync(api.ClientFor(_user), latin1, "latin1"), HttpStatusCode.BadRequest);
        Assert.Equal(2, (int)problem["line"]!);
        Assert.Contains("UTF-8", (string?)problem["detail"]);
        await AssertNoDatasetAsync();
    }

    [Fact]
    public async Task A_csv_needs_a_name()
    {
        var response = await api.ClientFor(_user).PostAsync("/api/v1/datasets", Csv("email\na@example.com\n"u8.ToArray()), Ct);
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["name"], problem["errors"]!.AsObject().Select(e => e.Key));
        await AssertNoDatasetAsync();
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("text/csv; charset=iso-8859-1")]
    public async Task Another_content_type_is_415(string contentType)
    {
        var content = new ByteArrayContent("email\na@example.com\n"u8.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await api.ClientFor(_user).PostAsync("/api/v1/datasets?name=x", content, Ct);
        await ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        await AssertNoDatasetAsync();
    }

    [Fact]
    public async Task A_csv_far_over_the_json_body_limit_streams_in()
    {
        // 20,000 rows of about 100 bytes: twice the service-wide 1 MiB JSON limit, sent without a length.
        var csv = new StringBuilder("email,first_name,last_name,company,linkedin_url,phone\n");
        for (var i = 1; i <= 20_000; i++)
            csv.Append($"lead{i}@example.com,First{i},Last{i},Company {i},https://www.linkedin.com/in/lead-{i},+1555{i:D7}\n");
        var bytes = Encoding.UTF8.GetBytes(csv.ToString());
        Assert.True(bytes.Length > 2 * 1024 * 1024);

        var response = await api.ClientFor(_user).PostAsync("/api/v1/datasets?name=big", new UnknownLengthContent(bytes), Ct);
        var body = await ReadCreatedAsync(response);
        Assert.Equal(20_000, (int)body["row_count"]!);
        var rows = await RowsAsync((Guid)body["dataset_id"]!);
        Assert.Equal(new Row(20_000, "lead20000@example.com", "First20000", "Company 20000", null), rows[^1]);
    }

    [Fact]
    public async Task The_same_idempotency_key_and_csv_replay_the_first_answer_and_import_once()
    {
        var client = api.ClientFor(_user);
        var key = Guid.NewGuid().ToString();
        async Task<HttpResponseMessage> Send(string csv)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/datasets?name=once") { Content = Csv(Encoding.UTF8.GetBytes(csv)) };
            request.Headers.Add("Idempotency-Key", key);
            return await client.SendAsync(request, Ct);
        }

        var first = await ReadCreatedAsync(await Send("email\na@example.com\n"));
        var again = await Send("email\na@example.com\n");
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.ToJsonString(), (await again.Content.ReadFromJsonAsync<JsonObject>(Ct))!.ToJsonString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send("email\nb@example.com\n")).StatusCode);
        Assert.Equal(1L, await CountDatasetsAsync(api, _user));
    }

    private async Task AssertNoDatasetAsync() => Assert.Equal(0L, await CountDatasetsAsync(api, _user));

    private async Task<List<Row>> RowsAsync(Guid datasetId)
    {
        await using var connection = await api.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(
            "select row_number, email, first_name, company, attributes::text from dataset_rows where dataset_id = @id order by row_number", connection);
        command.Parameters.AddWithValue("id", datasetId);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<Row>();
        while (await reader.ReadAsync(Ct))
            rows.Add(new Row(reader.GetInt32(0), Text(reader, 1), Text(reader, 2), Text(reader, 3), Text(reader, 4)));
        return rows;

        static string? Text(NpgsqlDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
    }

    private sealed record Row(int RowNumber, string? Email, string? FirstName, string? Company, string? Attributes);

    internal static async Task<long> CountDatasetsAsync(ApiFactory api, Guid user)
    {
        await using var connection = await api.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand("""
            select (select count(*) from datasets where user_id = @user)
                 + (select count(*) from dataset_rows r where not exists (select from datasets d where d.dataset_id = r.dataset_id))
            """, connection);
        command.Parameters.AddWithValue("user", user);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    internal static ByteArrayContent Csv(byte[] csv)
    {
        var content = new ByteArrayContent(csv);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv") { CharSet = "utf-8" };
        return content;
    }

    internal static Task<HttpResponseMessage> PostCsvAsync(HttpClient client, byte[] csv, string name) =>
        client.PostAsync($"/api/v1/datasets?name={Uri.EscapeDataString(name)}", Csv(csv), Ct);

    internal static async Task<JsonObject> ReadCreatedAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    internal static async Task<JsonObject> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>A text/csv body sent in pieces with no Content-Length (chunked), as a streaming client sends it.</summary>
    internal sealed class UnknownLengthContent : HttpContent
    {
        private readonly byte[] _bytes;

        public UnknownLengthContent(byte[] bytes)
        {
            _bytes = bytes;
            Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < _bytes.Length; offset += 8192)
                await stream.WriteAsync(_bytes.AsMemory(offset, Math.Min(8192, _bytes.Length - offset)));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>The import's own limits, made small: rows and bytes over them are 413 and leave nothing.</summary>
public sealed class ImportDatasetLimitTests(ImportDatasetLimitTests.SmallLimits api) : IClassFixture<ImportDatasetLimitTests.SmallLimits>
{
    public sealed class SmallLimits : ApiFactory
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Datasets:MaxRows"] = "3",
            ["Datasets:MaxBytes"] = "4096",
        };
    }

    private readonly Guid _user = Guid.NewGuid();

    [Fact]
    public async Task Rows_up_to_the_limit_are_accepted()
    {
        var body = await ImportDatasetTests.ReadCreatedAsync(
            await ImportDatasetTests.PostCsvAsync(api.ClientFor(_user), "email\na@x.io\nb@x.io\nc@x.io\n"u8.ToArray(), "three"));
        Assert.Equal(3, (int)body["row_count"]!);
    }

    [Fact]
    public async Task Too_many_csv_rows_is_413_and_leaves_nothing()
    {
        var response = await ImportDatasetTests.PostCsvAsync(api.ClientFor(_user), "email\na@x.io\nb@x.io\nc@x.io\nd@x.io\n"u8.ToArray(), "four");
        var problem = await ImportDatasetTests.ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("3 rows", (string?)problem["detail"]);
        Assert.Equal(0L, await ImportDatasetTests.CountDatasetsAsync(api, _user));
    }

    [Fact]
    public async Task Too_many_json_rows_is_413_and_leaves_nothing()
    {
        var rows = new JsonArray([.. Enumerable.Range(1, 4).Select(i => (JsonNode)new JsonObject { ["email"] = $"{i}@x.io" })]);
        var response = await api.ClientFor(_user).PostAsJsonAsync("/api/v1/datasets", new JsonObject { ["name"] = "four", ["rows"] = rows },
            TestContext.Current.CancellationToken);
        await ImportDatasetTests.ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0L, await ImportDatasetTests.CountDatasetsAsync(api, _user));
    }

    [Fact]
    public async Task A_csv_over_the_byte_limit_is_413_with_or_without_a_length_and_leaves_nothing()
    {
        var csv = Encoding.UTF8.GetBytes("email,note\n" + string.Concat(Enumerable.Range(0, 2).Select(i => $"{i}@x.io,{new string('n', 3000)}\n")));
        var announced = await ImportDatasetTests.PostCsvAsync(api.ClientFor(_user), csv, "big");
        var problem = await ImportDatasetTests.ReadProblemAsync(announced, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("4096 bytes", (string?)problem["detail"]);

        var streamed = await api.ClientFor(_user).PostAsync("/api/v1/datasets?name=big", new ImportDatasetTests.UnknownLengthContent(csv),
            TestContext.Current.CancellationToken);
        problem = await ImportDatasetTests.ReadProblemAsync(streamed, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("4096 bytes", (string?)problem["detail"]);
        Assert.Equal(0L, await ImportDatasetTests.CountDatasetsAsync(api, _user));
    }
}
