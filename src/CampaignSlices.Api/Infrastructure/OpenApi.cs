using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>The OpenAPI document at /openapi/v1.json, the Scalar reference at /scalar and the pointer to both at /.</summary>
public static class OpenApi
{
    private const string ProblemJson = "application/problem+json";
    private const string ProblemSchemaId = "ProblemDetails";

    public static void AddOpenApiDocument(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Transient<IApiDescriptionProvider, RawJsonBodyFromAccepts>());
        services.AddOpenApi("v1", options =>
        {
            options.CreateSchemaReferenceId = SchemaId;
            options.AddDocumentTransformer(DescribeServiceAsync);
            options.AddDocumentTransformer(NeverNullAnswers);
            options.AddSchemaTransformer(EnumsAndTimestampsAsStrings);
            options.AddSchemaTransformer(RequiredProperties);
            options.AddSchemaTransformer(ProblemDetailsShape);
            options.AddOperationTransformer(CrossCuttingAnswersAsync);
        });
    }

    /// <summary>
    /// Slices keep generic nested names (`CreateCampaign.Request`, `ListCampaigns.Response`); the
    /// document prefixes the slice so every schema id is unique and says what it is.
    /// </summary>
    private static string? SchemaId(JsonTypeInfo type)
    {
        var id = OpenApiOptions.CreateDefaultSchemaReferenceId(type);
        return id is not null && type.Type.DeclaringType is { } slice ? slice.Name + id : id;
    }

    private static Task DescribeServiceAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info = new OpenApiInfo
        {
            Title = "CampaignSlices API",
            Version = "v1",
            Contact = new OpenApiContact { Name = "CampaignSlices maintainers" },
            Description = "Multi-channel outreach campaigns: create, patch under per-status rules, preflight and launch. "
                + "Every error is an RFC 9457 problem (application/problem+json) with a trace_id.",
        };
        document.Servers = [new OpenApiServer { Url = "/", Description = "This service" }];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[Auth.Scheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "HS256 JWT whose sub is the caller's user UUID.",
        };
        AddOperatorPaths(document);
        document.Tags = document.Paths.Values
            .SelectMany(path => path.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
            .SelectMany(operation => operation.Tags ?? new HashSet<OpenApiTagReference>())
            .Select(tag => tag.Name).Distinct().Order(StringComparer.Ordinal)
            .Select(name => new OpenApiTag { Name = name, Description = TagDescription(name) })
            .ToHashSet();
        return Task.CompletedTask;
    }

    private static string TagDescription(string? tag) => tag switch
    {
        "Campaigns" => "Campaigns of the caller: create, read, patch, preflight, launch and the lifecycle after it.",
        "Datasets" => "Lead lists that campaigns draw from.",
        "Health" => "Liveness and readiness probes; no token needed.",
        "Metrics" => "The Prometheus scrape endpoint; no token needed.",
        "Webhooks" => "The caller's signing secret for webhook deliveries (Standard Webhooks signatures).",
        _ => tag ?? "",
    };

    /// <summary>The health probes and the metrics scrape are plain middleware endpoints that the API explorer does not see.</summary>
    private static void AddOperatorPaths(OpenApiDocument document)
    {
        document.Paths.Add("/health/live", AnonymousGet("HealthLive", "Whether the process is up",
            "Answers Healthy while the process runs; checks nothing else.", "Health", new() { ["200"] = TextResponse("Healthy") }));
        document.Paths.Add("/health/ready", AnonymousGet("HealthReady", "Whether the service can take traffic",
            "Answers Healthy when the database is reachable and every migration is applied, else 503 Unhealthy.", "Health",
            new() { ["200"] = TextResponse("Healthy"), ["503"] = TextResponse("Unhealthy") }));
        document.Paths.Add(Telemetry.MetricsPath, AnonymousGet("Metrics", "The service's metrics for Prometheus",
            "The current value of every metric in the Prometheus text format (OpenMetrics when the Accept header asks for it): "
            + "HTTP server and client, .NET runtime, Npgsql, Quartz and the dispatcher's own (CampaignSlices.Dispatch).", "Metrics",
            new()
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "The metrics",
                    Content = new Dictionary<string, OpenApiMediaType> { ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                },
            }));

        OpenApiPathItem AnonymousGet(string operationId, string summary, string description, string tag, OpenApiResponses responses) =>
            new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Get] = new()
                    {
                        OperationId = operationId,
                        Summary = summary,
                        Description = description,
                        Tags = new HashSet<OpenApiTagReference> { new(tag, document) },
                        Security = [],
                        Responses = responses,
                    },
                },
            };

        static OpenApiResponse TextResponse(string answer) => new()
        {
            Description = answer,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create(answer)] } },
            },
        };
    }

    /// <summary>Enums travel as snake_case strings and timestamps as ISO 8601 strings, whatever converter reads them.</summary>
    private static Task EnumsAndTimestampsAsStrings(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        var nullable = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) is not null;
        if (type.IsEnum)
        {
            // The exact-spelling converter (Json.ExactEnumConverter) is opaque to the schema exporter, so the
            // values are written here. Enum schemas become components; a nullable use says `null` at the
            // property (oneOf), not in the values.
            schema.Type = JsonSchemaType.String;
            schema.Enum = WireValues(type);
        }
        else if (type != typeof(string) && type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
                     ?.GetGenericArguments()[0] is { IsEnum: true } element)
            schema.Items = new OpenApiSchema { Type = JsonSchemaType.String, Enum = WireValues(element) };
        else if (type == typeof(DateTimeOffset) && schema.Type is null)
            schema.Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
        return Task.CompletedTask;
    }

    private static List<JsonNode> WireValues(Type enumType) =>
        Enum.GetValues(enumType).Cast<Enum>().Select(value => (JsonNode)JsonValue.Create(value.ToWire())).ToList();

    /// <summary>
    /// `[RequiredProperties(...)]` on a request: those properties are listed as required and lose the
    /// `null` that their nullable C# type gives them (sending null for them is a 400).
    /// </summary>
    private static Task RequiredProperties(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        if (context.JsonPropertyInfo is not null)
            return Task.CompletedTask;
        var type = context.JsonTypeInfo.Type;
        if (type.IsAssignableTo(typeof(IAlwaysPresent)))
        {
            schema.Required = new HashSet<string>(schema.Properties?.Keys ?? [], StringComparer.Ordinal);
            return Task.CompletedTask;
        }
        if (type.GetCustomAttribute<RequiredPropertiesAttribute>() is not { } required)
            return Task.CompletedTask;
        schema.Required = new HashSet<string>(required.Names, StringComparer.Ordinal);
        foreach (var name in required.Names)
        {
            if (schema.Properties is null || !schema.Properties.TryGetValue(name, out var property))
                throw new InvalidOperationException(
                    $"[RequiredProperties] on {context.JsonTypeInfo.Type.FullName} names '{name}', which is not one of its JSON properties.");
            schema.Properties[name] = WithoutNull(property);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// The properties an <see cref="IAlwaysPresent"/> answer never leaves null lose the null of their
    /// nullable C# type; done on the finished document, where nullable enum references have become `oneOf`.
    /// </summary>
    private static Task NeverNullAnswers(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        foreach (var type in typeof(OpenApi).Assembly.GetTypes().Where(type => type.IsClass && type.IsAssignableTo(typeof(IAlwaysPresent))))
        {
            if (SchemaId(Json.Options.GetTypeInfo(type)) is not { } id || document.Components?.Schemas?.TryGetValue(id, out var found) != true
                || found is not OpenApiSchema { Properties: { } properties })
                continue;
            var neverNull = (IReadOnlySet<string>)type.GetProperty(nameof(IAlwaysPresent.NeverNull), BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            foreach (var name in neverNull)
                properties[name] = WithoutNull(properties[name]);
        }
        return Task.CompletedTask;
    }

    /// <summary>A copy of the property's schema that does not admit null (shared schemas are left as they are).</summary>
    private static IOpenApiSchema WithoutNull(IOpenApiSchema property)
    {
        if (property.OneOf is { Count: 2 } oneOf && oneOf.Count(branch => branch.Type == JsonSchemaType.Null) == 1)
            return oneOf.Single(branch => branch.Type != JsonSchemaType.Null);
        if (property is OpenApiSchema { Type: { } type } schema && type.HasFlag(JsonSchemaType.Null))
        {
            var copy = (OpenApiSchema)schema.CreateShallowCopy();
            copy.Type = type & ~JsonSchemaType.Null;
            return copy;
        }
        return property;
    }

    /// <summary>The problem body as the service writes it: every member present, plus trace_id, errors and any extension.</summary>
    private static Task ProblemDetailsShape(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        if (context.JsonTypeInfo.Type != typeof(ProblemDetails) || context.JsonPropertyInfo is not null)
            return Task.CompletedTask;
        schema.Description = "An RFC 9457 problem. Extensions such as a launch's summary may be present too.";
        schema.Type = JsonSchemaType.Object;
        schema.AdditionalPropertiesAllowed = true;
        schema.AdditionalProperties = null;
        schema.Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri-reference", Description = "What kind of problem this is." },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The status code's reason phrase." },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for a person." },
            ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri-reference", Description = "The request path." },
            ["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The W3C trace id of the request; quote it when reporting a fault." },
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "Messages keyed by the JSON path of each bad value (`steps_config[1].delay_days`) or the parameter's name.",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
        };
        schema.Required = new HashSet<string>(["type", "title", "status", "detail", "instance", "trace_id"], StringComparer.Ordinal);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A body bound as raw JSON (a PATCH that must tell null from absent) is described by the type its
    /// endpoint names in `Accepts&lt;T&gt;`, so the document shows that type's schema, not "any JSON".
    /// </summary>
    private sealed class RawJsonBodyFromAccepts : IApiDescriptionProvider
    {
        public int Order => 0;

        public void OnProvidersExecuting(ApiDescriptionProviderContext context) { }

        public void OnProvidersExecuted(ApiDescriptionProviderContext context)
        {
            foreach (var description in context.Results)
            {
                var accepts = description.ActionDescriptor.EndpointMetadata.OfType<IAcceptsMetadata>()
                    .FirstOrDefault(metadata => metadata.RequestType is not null && metadata.RequestType != typeof(JsonElement));
                var rawBody = description.ParameterDescriptions.FirstOrDefault(parameter =>
                    parameter.Source == BindingSource.Body && parameter.Type == typeof(JsonElement));
                if (accepts is not null && rawBody is not null)
                    rawBody.Type = accepts.RequestType!;
            }
        }
    }

    /// <summary>
    /// The answers that come from the pipeline rather than the slice: the bearer requirement and 401,
    /// 400/404 for a path id, 400/413/415 for a JSON body, Idempotency-Key (409/422) on POSTs that
    /// honour it, If-Match where 412 is declared, 500 everywhere, and the Location and ETag headers.
    /// </summary>
    private static Task CrossCuttingAnswersAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        // The endpoints' ProducesProblem declarations make the ProblemDetails component this refers to.
        var problem = new OpenApiSchemaReference(ProblemSchemaId, context.Document);
        // An endpoint mapped without a description still documents what it does (and lints clean).
        operation.Description ??= operation.Summary;
        operation.Responses ??= new OpenApiResponses();
        operation.Parameters ??= [];

        if (!metadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Auth.Scheme, context.Document)] = [] }];
            AddProblem(401);
        }
        if (description.ParameterDescriptions.Any(parameter => parameter.Source == BindingSource.Path))
        {
            AddProblem(400);
            AddProblem(404);
        }
        if (operation.RequestBody is not null)
        {
            AddProblem(400);
            AddProblem(413);
            AddProblem(415);
        }
        if (HttpMethods.IsPost(description.HttpMethod ?? "") && metadata.OfType<Idempotency.Supported>().Any())
        {
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = Idempotency.Header,
                In = ParameterLocation.Header,
                Description = "Replays the first answer for a retry with the same key and body (kept 24 h per user); "
                    + "another body with the key is 422, a retry while the first is running 409.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = Idempotency.MaxKeyLength },
            });
            AddProblem(400);
            AddProblem(409);
            AddProblem(422);
        }
        if (operation.Responses.ContainsKey("412"))
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "If-Match",
                In = ParameterLocation.Header,
                Description = "The campaign's ETag as last read; a stale one answers 412 and changes nothing.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        AddProblem(500);
        foreach (var (status, response) in operation.Responses.Where(response => response.Key[0] == '2').ToList())
        {
            if (status == "201")
                AddHeader(response, "Location", "Where the created resource can be read.");
            if (metadata.OfType<ETags.Answered>().Any() && status != "204")
                AddHeader(response, "ETag", "The resource's version, strong; send it back in If-Match.");
        }

        var ordered = operation.Responses.OrderBy(response => response.Key, StringComparer.Ordinal).ToList();
        operation.Responses.Clear();
        foreach (var (status, response) in ordered)
            operation.Responses[status] = response;
        return Task.CompletedTask;

        static void AddHeader(IOpenApiResponse response, string name, string description)
        {
            if (response is not OpenApiResponse concrete)
                return;
            concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
            concrete.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
        }

        void AddProblem(int status) => operation.Responses.TryAdd(status.ToString(CultureInfo.InvariantCulture), new OpenApiResponse
        {
            Description = ReasonPhrases.GetReasonPhrase(status),
            Content = new Dictionary<string, OpenApiMediaType> { [ProblemJson] = new() { Schema = problem } },
        });
    }

    /// <summary>
    /// Documents a query parameter that the endpoint reads as text (so that it answers its own 400)
    /// as what clients should send: one of the enum's wire values.
    /// </summary>
    public static RouteHandlerBuilder QueryEnum<TEnum>(this RouteHandlerBuilder builder, string name) where TEnum : struct, Enum =>
        builder.DescribeQuery(name, new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Enum = WireValues(typeof(TEnum)),
        });

    /// <summary>As <see cref="QueryEnum{TEnum}"/>, for a whole number in a range.</summary>
    public static RouteHandlerBuilder QueryInteger(this RouteHandlerBuilder builder, string name, int minimum, int maximum, int defaultValue) =>
        builder.DescribeQuery(name, new OpenApiSchema
        {
            Type = JsonSchemaType.Integer,
            Format = "int32",
            Minimum = minimum.ToString(CultureInfo.InvariantCulture),
            Maximum = maximum.ToString(CultureInfo.InvariantCulture),
            Default = JsonValue.Create(defaultValue),
        });

    /// <summary>As <see cref="QueryEnum{TEnum}"/>, for a route value that is a whole number from <paramref name="minimum"/>.</summary>
    public static RouteHandlerBuilder PathInteger(this RouteHandlerBuilder builder, string name, int minimum) =>
        builder.DescribeParameter(ParameterLocation.Path, name, new OpenApiSchema
        {
            Type = JsonSchemaType.Integer,
            Format = "int32",
            Minimum = minimum.ToString(CultureInfo.InvariantCulture),
        });

    private static RouteHandlerBuilder DescribeQuery(this RouteHandlerBuilder builder, string name, OpenApiSchema schema) =>
        builder.DescribeParameter(ParameterLocation.Query, name, schema);

    private static RouteHandlerBuilder DescribeParameter(this RouteHandlerBuilder builder, ParameterLocation location, string name, OpenApiSchema schema) =>
        builder.AddOpenApiOperationTransformer((operation, context, ct) =>
        {
            var parameter = operation.Parameters?.OfType<OpenApiParameter>().SingleOrDefault(p => p.In == location && p.Name == name)
                ?? throw new InvalidOperationException($"{context.Description.RelativePath} has no {location.ToString().ToLowerInvariant()} parameter '{name}' to describe.");
            parameter.Schema = schema;
            return Task.CompletedTask;
        });

    /// <summary>
    /// The document, the Scalar reference (Scalar.AspNetCore serves its own embedded bundle under
    /// /scalar/; /scalar redirects there) and `GET /` pointing at both; none needs a token.
    /// </summary>
    public static void MapApiReference(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        // Bearer preselected; no web fonts, telemetry or AI agent, so the page talks to nothing beyond this service.
        app.MapScalarApiReference(options => options
                .WithTitle("CampaignSlices API")
                .AddPreferredSecuritySchemes(Auth.Scheme)
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent())
            .AllowAnonymous();
        // A way in for a person or a probe that knows only the host; not part of the API contract.
        app.MapGet("/", () => TypedResults.Ok(new RootDocument("CampaignSlices API", "/scalar", "/openapi/v1.json", "/health/ready")))
            .AllowAnonymous().ExcludeFromDescription();
    }

    public sealed record RootDocument(string Name, string ApiReference, string OpenapiDocument, string Readiness);
}
