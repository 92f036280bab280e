using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using Npgsql;

namespace CampaignSlices.Tests.Operations;

/// <summary>The RFC 9457 shape of every kind of error, as clients see it.</summary>
public sealed class ProblemTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Campaigns = "/api/v1/campaigns";

    private async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)expected, (int)problem["status"]!);
        foreach (var member in new[] { "type", "title", "detail", "instance", "trace_id" })
            Assert.False(string.IsNullOrEmpty((string?)problem[member]), $"{member} in {text}");
        return problem;
    }

    private Task<HttpResponseMessage> PostJsonAsync(string json) =>
        api.ClientFor().PostAsync(Campaigns, new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

    [Theory]
    [InlineData("unknown-field", """{"name":"x","bogus":1}""", "bogus")]
    [InlineData("unknown-nested-field", """{"steps_config":[{"channel":"email","bogus":true}]}""", "steps_config[0].bogus")]
    [InlineData("duplicate-key", """{"name":"a","name":"b"}""", "name")]
    [InlineData("wrong-type", """{"steps_config":[{"channel":"email"},{"channel":"email","delay_days":"two"}]}""", "steps_config[1].delay_days")]
    [InlineData("unknown-enum-value", """{"type":"fax"}""", "type")]
    [InlineData("not-json", """{"name": """, "$")]
    public async Task Strict_json_answers_400_naming_the_path(string snapshot, string body, string path)
    {
        var problem = await ProblemAsync(await PostJsonAsync(body), HttpStatusCode.BadRequest);
        Assert.Equal([path], problem["errors"]!.AsObject().Select(error => error.Key));
        Snapshot.Match(problem.ToJsonString(), $"400-{snapshot}");
    }

    [Theory]
    [InlineData("""{"name":"x",}""", 1, 13)]
    [InlineData("""{"steps_config":[{"channel":"email",}]}""", 1, 37)]
    [InlineData("{\n  \"name\": ", 2, 11)]
    [InlineData("""{"name":"x"}}""", 1, 13)]
    [InlineData("not json", 1, 2)]
    public async Task Malformed_json_is_one_message_naming_where_parsing_stopped(string body, int line, int column)
    {
        var problem = await ProblemAsync(await PostJsonAsync(body), HttpStatusCode.BadRequest);
        var message = $"The body is not valid JSON: parsing stopped at line {line}, column {column}.";
        Assert.Equal(message, (string?)problem["detail"]);
        Assert.Equal(message, (string?)problem["errors"]!["$"]![0]);
    }

    [Fact]
    public async Task A_missing_body_is_400_for_the_whole_document()
    {
        var response = await api.ClientFor().PostAsync(Campaigns, null, TestContext.Current.CancellationToken);
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["$"], problem["errors"]!.AsObject().Select(error => error.Key));
        Assert.DoesNotContain("parameter", (string)problem["detail"]!);
    }

    [Fact]
    public async Task A_path_id_that_is_not_a_uuid_is_400_not_404()
    {
        var response = await api.ClientFor().GetAsync($"{Campaigns}/not-a-uuid", TestContext.Current.CancellationToken);
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["campaign_id"], problem["errors"]!.AsObject().Select(error => error.Key));
        Snapshot.Match(problem.ToJsonString(), "400-path-id");
    }

    [Fact]
    public async Task Missing_token_is_401()
    {
        var response = await api.AnonymousClient().GetAsync(Campaigns, TestContext.Current.CancellationToken);
        Snapshot.Match((await ProblemAsync(response, HttpStatusCode.Unauthorized)).ToJsonString(), "401");
    }

    [Fact]
    public async Task Unknown_route_is_404()
    {
        var response = await api.ClientFor().GetAsync("/api/v1/nothing-here", TestContext.Current.CancellationToken);
        Snapshot.Match((await ProblemAsync(response, HttpStatusCode.NotFound)).ToJsonString(), "404-route");
    }

    [Fact]
    public async Task Unknown_id_is_404()
    {
        var response = await api.ClientFor().GetAsync($"{Campaigns}/{Guid.NewGuid()}", TestContext.Current.CancellationToken);
        Snapshot.Match((await ProblemAsync(response, HttpStatusCode.NotFound)).ToJsonString(), "404-id");
    }

    [Fact]
    public async Task Unsupported_method_is_405_with_allow()
    {
        var response = await api.ClientFor().PutAsync(Campaigns, new StringContent("{}", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var problem = await ProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Equal(["GET", "POST"], response.Content.Headers.Allow.Order());
        Snapshot.Match(problem.ToJsonString(), "405");
    }

    [Fact]
    public async Task A_body_over_one_mebibyte_is_413()
    {
        var body = $$"""{"name":"{{new string('a', 1024 * 1024)}}"}""";
        // As a careful client sends a large body: the 413 comes before the body is sent, so the server's
        // close of the connection cannot cut the upload (a broken pipe) before the answer is read.
        using var request = new HttpRequestMessage(HttpMethod.Post, Campaigns) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        var response = await api.ClientFor().SendAsync(request, TestContext.Current.CancellationToken);
        Snapshot.Match((await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge)).ToJsonString(), "413");
    }

    [Fact]
    public async Task A_body_just_under_one_mebibyte_is_read()
    {
        // Proves the limit sits at 1 MiB, not lower: this body is read and rejected for its content.
        var body = $$"""{"name":"{{new string('a', 1024 * 1024 - 20)}}"}""";
        var problem = await ProblemAsync(await PostJsonAsync(body), HttpStatusCode.BadRequest);
        Assert.Contains("name", problem["errors"]!.AsObject().Select(error => error.Key));
    }

    [Fact]
    public async Task A_non_json_body_is_415()
    {
        var response = await api.ClientFor().PostAsync(Campaigns, new StringContent("name=x", Encoding.UTF8, "text/plain"),
            TestContext.Current.CancellationToken);
        Snapshot.Match((await ProblemAsync(response, HttpStatusCode.UnsupportedMediaType)).ToJsonString(), "415");
    }

    [Fact]
    public async Task An_unexpected_fault_is_500_with_a_trace_id_and_no_internals()
    {
        // A database of its own, broken on purpose: the campaigns table is gone.
        await using var broken = new ApiFactory();
        await broken.InitializeAsync();
        await using (var connection = await broken.OpenDatabaseAsync())
        await using (var drop = new NpgsqlCommand("drop table campaigns cascade", connection))
            await drop.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);

        var response = await broken.ClientFor().GetAsync(Campaigns, TestContext.Current.CancellationToken);
        var problem = await ProblemAsync(response, HttpStatusCode.InternalServerError);
        var text = problem.ToJsonString();
        foreach (var leak in new[] { "42P01", "Npgsql", "Exception", " at ", "relation", "does not exist" })
            Assert.DoesNotContain(leak, text, StringComparison.OrdinalIgnoreCase);
        Assert.Matches("^[0-9a-f]{32}$", (string)problem["trace_id"]!);
        Snapshot.Match(text, "500");
    }
}
