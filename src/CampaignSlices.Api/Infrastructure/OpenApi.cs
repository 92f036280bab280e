using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>The OpenAPI document at /openapi/v1.json and the Scalar reference at /scalar.</summary>
public static class OpenApi
{
    private const string ScalarBundle = "scalar/standalone.js";

    public static void AddOpenApiDocument(this IServiceCollection services)
    {
        services.AddOpenApi("v1", options =>
        {
            // Slices nest generic names (CreateCampaign.Request, ImportDataset.Request); unqualified they would
            // share one schema, so such a schema is named after its slice.
            options.CreateSchemaReferenceId = type => type.Type is { IsNested: true, Name: "Request" or "Response" } nested
                ? nested.DeclaringType!.Name + nested.Name
                : OpenApiOptions.CreateDefaultSchemaReferenceId(type);
            options.AddDocumentTransformer((document, context, ct) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "CampaignSlices API",
                    Version = "v1",
                    Description = "Multi-channel outreach campaigns: create, patch under per-status rules, preflight and launch.",
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
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, ct) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAllowAnonymous>().Any())
                    return Task.CompletedTask;
                operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Auth.Scheme, context.Document)] = [] }];
                return Task.CompletedTask;
            });
        });
    }

    public static void MapApiReference(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        var bundle = Path.Combine(AppContext.BaseDirectory, ScalarBundle);
        app.MapGet("/scalar", () => Results.Content(ScalarPage(File.Exists(bundle)), "text/html"))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/scalar/standalone.js", () => File.Exists(bundle)
                ? Results.File(bundle, "text/javascript")
                : Results.NotFound())
            .AllowAnonymous().ExcludeFromDescription();
    }

    private static string ScalarPage(bool bundleAvailable) => bundleAvailable
        ? """
          <!doctype html>
          <html>
          <head><title>CampaignSlices API</title><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" /></head>
          <body>
          <script id="api-reference" data-url="/openapi/v1.json"></script>
          <script src="/scalar/standalone.js"></script>
          </body>
          </html>
          """
        : """
          <!doctype html>
          <html>
          <head><title>CampaignSlices API</title><meta charset="utf-8" /></head>
          <body>
          <h1>CampaignSlices API</h1>
          <p>The Scalar bundle was not fetched when this build ran (it comes from the npm registry at build time).
          Run <code>dotnet build src/CampaignSlices.Api</code> on a machine that reaches the npm registry, with npm installed.
          The OpenAPI document itself is at <a href="/openapi/v1.json">/openapi/v1.json</a>.</p>
          </body>
          </html>
          """;
}
