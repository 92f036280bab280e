using System.Net;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;

namespace CampaignSlices.Tests.Operations;

public sealed class OpenApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly string[] ProblemsOfEverySecuredOperation = ["401", "500"];

    private async Task<string> DocumentAsync()
    {
        var response = await api.AnonymousClient().GetAsync("/openapi/v1.json", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    [Fact]
    public async Task The_document_matches_the_reviewed_contract() =>
        Snapshot.Match(await DocumentAsync(), "v1");

    [Fact]
    public async Task Every_operation_has_an_id_a_summary_a_description_and_its_problem_answers()
    {
        var document = JsonNode.Parse(await DocumentAsync())!;
        Assert.NotEmpty(document["servers"]!.AsArray());
        var operations = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(operation => (Name: $"{operation.Key} {path.Key}", Body: operation.Value!)))
            .ToList();
        Assert.Contains(operations, operation => operation.Name == "post /api/v1/campaigns");

        foreach (var (name, operation) in operations)
        {
            Assert.False(string.IsNullOrWhiteSpace((string?)operation["operationId"]), $"{name}: operationId");
            Assert.False(string.IsNullOrWhiteSpace((string?)operation["summary"]), $"{name}: summary");
            Assert.False(string.IsNullOrWhiteSpace((string?)operation["description"]), $"{name}: description");
            var responses = operation["responses"]!.AsObject();
            var secured = operation["security"]?.AsArray().Count > 0;
            Assert.True(secured != (name.Contains("/health/") || name == "get /metrics"), $"{name}: the API needs the bearer token, the probes and the scrape do not");
            if (!secured)
                continue;
            foreach (var status in ProblemsOfEverySecuredOperation)
                Assert.True(responses.ContainsKey(status), $"{name}: declares {status}");
            foreach (var (status, response) in responses.Where(response => response.Key[0] is '4' or '5'))
                Assert.True(response!["content"]?["application/problem+json"] is not null, $"{name}: {status} is a problem");
            if (name.Contains('{'))
                Assert.True(responses.ContainsKey("400") && responses.ContainsKey("404"), $"{name}: a path id answers 400 and 404");
        }
    }

    [Fact]
    public async Task Every_reference_resolves_to_a_component()
    {
        var text = await DocumentAsync();
        var schemas = JsonNode.Parse(text)!["components"]!["schemas"]!.AsObject().Select(schema => schema.Key).ToHashSet();
        var references = System.Text.RegularExpressions.Regex.Matches(text, "\"#/components/schemas/([^\"]+)\"")
            .Select(match => match.Groups[1].Value).Distinct().ToList();
        Assert.Contains("ProblemDetails", references);
        Assert.All(references, reference => Assert.Contains(reference, schemas));
    }

    [Fact]
    public async Task Schemas_are_snake_case_with_string_enums_and_the_declared_required_fields()
    {
        var schemas = JsonNode.Parse(await DocumentAsync())!["components"]!["schemas"]!.AsObject();

        var create = schemas["CreateCampaignRequest"]!;
        Assert.Equal(["dataset_id", "name", "steps_config", "type"], create["required"]!.AsArray().Select(n => (string)n!).Order());
        Assert.Equal("string", (string?)create["properties"]!["name"]!["type"]);
        Assert.Contains("steps_config", create["properties"]!.AsObject().Select(p => p.Key));
        Assert.DoesNotContain(schemas, schema => schema.Key is "Request" or "Response" || schema.Key.EndsWith('2'));

        var status = schemas["CampaignStatus"]!;
        Assert.Equal("string", (string?)status["type"]);
        Assert.Contains("draft", status["enum"]!.AsArray().Select(n => (string?)n));

        var problem = schemas["ProblemDetails"]!;
        Assert.Contains("trace_id", problem["required"]!.AsArray().Select(n => (string?)n));
        Assert.NotNull(problem["properties"]!["errors"]);
    }

    [Fact]
    public async Task Scalar_reference_answers_html_that_loads_the_document_without_a_token()
    {
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = api.AnonymousClient().BaseAddress };
        var redirect = await client.GetAsync("/scalar", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/scalar/", new Uri(redirect.RequestMessage!.RequestUri!, redirect.Headers.Location!).AbsolutePath);

        var page = await client.GetAsync("/scalar/", TestContext.Current.CancellationToken);
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        // Relative to the service root, which the page's script works out from its own path.
        Assert.Contains("\"url\":\"openapi/v1.json\"", html);

        var bundle = await client.GetAsync("/scalar/scalar.js", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal("text/javascript", bundle.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_root_points_at_the_reference_the_document_and_readiness()
    {
        var client = api.AnonymousClient();
        var response = await client.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!.AsObject();

        Assert.Equal(["api_reference", "name", "openapi_document", "readiness"], root.Select(member => member.Key).Order(StringComparer.Ordinal));
        foreach (var link in new[] { "api_reference", "openapi_document", "readiness" })
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync((string)root[link]!, TestContext.Current.CancellationToken)).StatusCode);
    }
}
