using Carter;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Datasets;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Api.Webhooks;

AppDomain.CurrentDomain.UnhandledException += ConfigurationException.ExitWithMessage;
if (args is ["token", ..])
    return Auth.RunTokenCommand(args[1..]);

var builder = WebApplication.CreateBuilder(args);

builder.AddLogs();
builder.AddTelemetry();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = RequestLimits.JsonBodyBytes);
builder.Services.ConfigureHttpJsonOptions(options => Json.Configure(options.SerializerOptions));
builder.Services.AddProblems();
builder.Services.AddValidation();
builder.Services.AddMediation();
builder.Services.AddCarter(configurator: carter => carter
    .WithModule<DatasetsModule>().WithModule<CampaignsModule>().WithModule<WebhooksModule>().WithModule<DispatchModule>().WithEmptyValidators().WithEmptyResponseNegotiators());
builder.Services.AddSingleton(TimeProvider.System);
builder.AddAuth();
await builder.AddDatabaseAsync();
builder.AddKeyRing();
builder.Services.AddHealth();
builder.Services.AddOpenApiDocument();
builder.AddDatasets();
builder.AddCampaigns();
builder.AddWebhooks();
builder.AddDispatch();

var app = builder.Build();
app.StopEmbeddedDatabaseOnShutdown();
await app.Services.GetRequiredService<Migrations>().ApplyAsync(app.Lifetime.ApplicationStopping);
await app.LoadKeyRingAsync(app.Lifetime.ApplicationStopping);

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseIdempotencyKeys();

app.MapHealth();
app.MapMetrics();
app.MapApiReference();
app.MapCarter();

await app.RunAsync();
return 0;

public partial class Program;
