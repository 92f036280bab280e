using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>RFC 9457 problem details for every error the service answers, expected or not.</summary>
public static partial class Problems
{
    private static readonly Dictionary<int, (string Type, string Detail)> ByStatus = new()
    {
        [400] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1", "The request is invalid."),
        [401] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2", "A valid bearer token is required."),
        [403] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.4", "Forbidden."),
        [404] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5", "Not found."),
        [405] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6", "Method not allowed."),
        [409] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.10", "Conflict with the resource's current state."),
        [412] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.13", "The If-Match precondition failed."),
        [413] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14", "The request body is larger than this endpoint accepts."),
        [415] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16", "Unsupported media type."),
        [422] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.5.21", "The request cannot be processed."),
        [500] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.6.1", "An unexpected error occurred."),
        [503] = ("https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4", "The service is unavailable."),
    };

    public static void AddProblems(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Status is int status && ByStatus.TryGetValue(status, out var known))
            {
                // The framework's defaults (its type link and, for 500, a sentence as title) give way to ours.
                if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
                {
                    problem.Type = known.Type;
                    problem.Title = ReasonPhrases.GetReasonPhrase(status);
                }
                problem.Title ??= ReasonPhrases.GetReasonPhrase(status);
                problem.Detail ??= DetailFor(status, context.HttpContext) ?? known.Detail;
            }
            problem.Detail ??= problem.Title;
            problem.Instance ??= context.HttpContext.Request.Path;
            problem.Extensions["trace_id"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
            problem.Extensions.Remove("traceId");
        });
        services.AddExceptionHandler<ExceptionToProblem>();
        // Binding failures throw, so the handler below can name the bad field instead of an empty 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
    }

    /// <summary>For answers the pipeline makes without a detail of its own: say what would have been accepted.</summary>
    private static string? DetailFor(int status, HttpContext context) => status switch
    {
        405 when context.Response.Headers.Allow is { Count: > 0 } allow => $"This resource allows {string.Join(", ", allow.ToString())}.",
        // Routing rejects the content type before any endpoint is chosen, so the request is all there is to quote.
        415 => $"This endpoint does not take a body of type '{context.Request.ContentType}'; /openapi/v1.json lists what each endpoint takes.",
        _ => null,
    };

    public static ProblemHttpResult NotFound(string detail) => Make(404, detail);

    public static ProblemHttpResult Conflict(string detail, IDictionary<string, string[]>? errors = null) => Make(409, detail, errors);

    public static ProblemHttpResult Unprocessable(string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: 422, extensions: extensions);

    public static ProblemHttpResult PreconditionFailed(string detail) => Make(412, detail);

    public static ProblemHttpResult TooLarge(string detail) => Make(413, detail);

    public static ProblemHttpResult UnsupportedMediaType(string detail) => Make(415, detail);

    public static ProblemHttpResult Invalid(string detail, IDictionary<string, string[]> errors) => Make(400, detail, errors);

    public static ProblemHttpResult Invalid(string field, string message) =>
        Make(400, message, new Dictionary<string, string[]> { [field] = [message] });

    private static ProblemHttpResult Make(int status, string detail, IDictionary<string, string[]>? errors = null) =>
        TypedResults.Problem(detail: detail, statusCode: status,
            extensions: errors is null ? null : new Dictionary<string, object?> { ["errors"] = errors });

    /// <summary>Turns what a client sent wrong into 400/413/415 naming the field, and any other fault into a 500 without internals.</summary>
    private sealed partial class ExceptionToProblem(IProblemDetailsService problems, ILogger<ExceptionToProblem> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken ct)
        {
            var (status, detail, errors) = Describe(exception);
            if (status >= 500)
                logger.LogError(exception, "Unhandled fault on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            else
                logger.LogInformation("Rejected request on {Method} {Path}: {Detail}", httpContext.Request.Method, httpContext.Request.Path, detail);

            httpContext.Response.StatusCode = status;
            var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Detail = detail };
            if (errors is not null)
                problem.Extensions["errors"] = errors;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = problem,
                Exception = exception,
            });
        }

        private static (int Status, string Detail, Dictionary<string, string[]>? Errors) Describe(Exception exception) => exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => DescribeJson(json),
            BadHttpRequestException { StatusCode: 413 } => (413, "The request body is larger than this endpoint accepts.", null),
            BadHttpRequestException { StatusCode: 415 } bad => (415, bad.Message, null),
            BadHttpRequestException bad when bad.Message.Contains("no body was provided") || bad.Message.Contains("was not provided from body") =>
                (400, "A JSON body is required.", new() { ["$"] = ["A JSON body is required."] }),
            BadHttpRequestException bad when BindFailure().Match(bad.Message) is { Success: true } match =>
                DescribeBindFailure(match),
            BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 400 ? "The request is invalid: " + bad.Message : bad.Message, null),
            NpgsqlException { IsTransient: true } => (503, "The database is unavailable; try again shortly.", null),
            _ => (500, "An unexpected error occurred. Quote the trace_id when reporting it.", null),
        };

        private static (int, string, Dictionary<string, string[]>?) DescribeJson(JsonException json)
        {
            var field = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? "$" : json.Path.StartsWith("$.") ? json.Path[2..] : json.Path.TrimStart('$');
            var message = json.Message switch
            {
                var m when m.Contains("could not be mapped to any .NET member") => "Unknown field.",
                var m when m.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) => "Duplicate key.",
                var m when ConvertedTo().Match(m) is { Success: true } target => Expected(target.Groups["type"].Value),
                var m when m.Contains("missing required properties") => "Required fields are missing.",
                var m when m.Contains("null") && m.Contains("non-nullable") => "Must not be null.",
                var m when m.Contains("is an invalid") || m.Contains("is invalid after") || m.Contains("expected end") || m.Contains("end of data")
                    || m.Contains("Expected depth to be zero") || m.Contains("does not contain any JSON tokens") =>
                    "The body is not valid JSON.",
                var m when !m.Contains("Path:") && !m.Contains(".NET") => m,
                _ => "Invalid value.",
            };
            // The serializer may or may not have stepped into the offending property when it stops.
            if (message is "Unknown field." or "Duplicate key." && QuotedProperty().Match(json.Message) is { Success: true } unknown
                && !field.EndsWith(unknown.Groups[1].Value, StringComparison.Ordinal))
                field = field == "$" ? unknown.Groups[1].Value : $"{field}.{unknown.Groups[1].Value}";
            return (400, $"{field}: {message}", new() { [field] = [message] });
        }

        /// <summary>What a value of the .NET type named in the serializer's message looks like on the wire.</summary>
        private static string Expected(string typeName)
        {
            var name = NullableOf().Match(typeName) is { Success: true } inner ? inner.Groups["type"].Value : typeName;
            if (typeof(Problems).Assembly.GetType(name) is { IsEnum: true } enumType)
                return $"Must be one of: {string.Join(", ", Enum.GetValues(enumType).Cast<Enum>().Select(value => value.ToWire()))}.";
            return name switch
            {
                "System.Int32" or "System.Int64" => "Must be a whole number.",
                "System.Double" or "System.Decimal" or "System.Single" => "Must be a number.",
                "System.String" => "Must be a string.",
                "System.Boolean" => "Must be true or false.",
                "System.Guid" => "Must be a UUID.",
                _ when name.StartsWith("System.Collections.Generic.List`1", StringComparison.Ordinal) || name.EndsWith("[]", StringComparison.Ordinal) =>
                    "Must be an array.",
                _ when name.StartsWith("CampaignSlices.", StringComparison.Ordinal) || name.StartsWith("System.Text.Json.Nodes.JsonObject", StringComparison.Ordinal) =>
                    "Must be an object.",
                _ => "Wrong type or format for this field.",
            };
        }

        private static (int, string, Dictionary<string, string[]>?) DescribeBindFailure(Match match)
        {
            // The framework names the C# parameter; clients know it by its snake_case route or query name.
            var name = JsonNamingPolicy.SnakeCaseLower.ConvertName(match.Groups["name"].Value);
            var message = $"Must be a valid {Describe(match.Groups["type"].Value)}.";
            return (400, $"'{match.Groups["value"].Value}' is not a valid value for {name}.", new() { [name] = [message] });
        }

        private static string Describe(string parameterType) => parameterType switch
        {
            "Guid" => "UUID",
            "Int32" or "int" => "integer",
            _ => parameterType.ToLowerInvariant(),
        };

        [GeneratedRegex("""^Failed to bind parameter "(?<type>[^ ]+) (?<name>[^"]+)" from "(?<value>.*)"\.$""")]
        private static partial Regex BindFailure();

        [GeneratedRegex("""could not be converted to (?<type>\S+?)\. Path:""")]
        private static partial Regex ConvertedTo();

        [GeneratedRegex("""^System\.Nullable`1\[(?<type>.+)\]$""")]
        private static partial Regex NullableOf();

        [GeneratedRegex("""property '([^']+)'""")]
        private static partial Regex QuotedProperty();
    }
}
