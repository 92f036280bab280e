using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>RFC 9457 problem details for every error the service answers, expected or not.</summary>
public static class Problems
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
        403 when context.Request.Path.StartsWithSegments("/api/v1/dispatch") =>
            "This endpoint is for channel workers: it needs a token whose scope claim holds dispatch.",
        403 => "This endpoint needs a user's token (a UUID as sub); a channel worker's token reaches only /api/v1/dispatch.",
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
    private sealed class ExceptionToProblem(IProblemDetailsService problems, ILogger<ExceptionToProblem> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken ct)
        {
            var (status, detail, errors) = Describe(httpContext, exception);
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

        /// <summary>
        /// Bodies are read and checked by <see cref="JsonBody"/>, so what reaches here from a client is
        /// a body too large, a content type refused, or a route value that is not the UUID it must be.
        /// </summary>
        private static (int Status, string Detail, Dictionary<string, string[]>? Errors) Describe(HttpContext context, Exception exception) => exception switch
        {
            BadHttpRequestException { StatusCode: 413 } => (413, "The request body is larger than this endpoint accepts.", null),
            BadHttpRequestException { StatusCode: 415 } => (415, "Unsupported media type.", null),
            BadHttpRequestException { StatusCode: 400 } when MalformedIds(context) is { Count: > 0 } ids =>
                (400, string.Join(" ", ids.Select(id => $"'{id.Value}' is not a valid value for {id.Key}.")),
                    ids.ToDictionary(id => id.Key, _ => new[] { "Must be a valid UUID." })),
            BadHttpRequestException bad => (bad.StatusCode, ReasonPhrases.GetReasonPhrase(bad.StatusCode), null),
            NpgsqlException { IsTransient: true } => (503, "The database is unavailable; try again shortly.", null),
            _ => (500, "An unexpected error occurred. Quote the trace_id when reporting it.", null),
        };

        /// <summary>The route's `…_id` values that do not parse as UUIDs: the only route values the service binds.</summary>
        private static List<KeyValuePair<string, object?>> MalformedIds(HttpContext context) =>
            [.. (context.Features.Get<IExceptionHandlerFeature>()?.RouteValues ?? []).Where(value => value.Key.EndsWith("_id", StringComparison.Ordinal) && !Guid.TryParse(value.Value as string, out _))];
    }
}
