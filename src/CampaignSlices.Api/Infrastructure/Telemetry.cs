using System.Diagnostics;
using System.Reflection;
using CampaignSlices.Api.Dispatch;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Quartz.Diagnostics;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// OpenTelemetry: metrics always, scraped by Prometheus at /metrics; traces, metrics and logs also pushed over
/// OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads that and the other OTEL_* settings itself).
/// Without an endpoint no span is recorded, since nothing would read it: requests still get their trace id
/// from ASP.NET Core, for the logs and the problems' trace_id.
/// </summary>
public static class Telemetry
{
    public const string MetricsPath = "/metrics";
    public const string ActivitySourceName = "CampaignSlices";
    private const string DefaultServiceName = "campaign-slices";
    private const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string ServiceNameSetting = "OTEL_SERVICE_NAME";

    /// <summary>The service's own spans, inside the request's or job's span.</summary>
    public static readonly ActivitySource Source = new(ActivitySourceName);

    public static void AddTelemetry(this WebApplicationBuilder builder)
    {
        var version = typeof(Telemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration[ServiceNameSetting] ?? DefaultServiceName, serviceVersion: version))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddMeter(QuartzInstrumentation.MeterName, DispatchMetrics.MeterName)
                .AddPrometheusExporter());
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointSetting]))
            return;
        telemetry
            .WithTracing(tracing => tracing
                // Probes and scrapes come every few seconds and say nothing about the work.
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbeOrScrape(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .AddSource(QuartzInstrumentation.ActivitySourceName, ActivitySourceName))
            .WithLogging(configureBuilder: null, configureOptions: options => options.IncludeFormattedMessage = true)
            .UseOtlpExporter();
    }

    /// <summary>The Prometheus scrape endpoint, anonymous like the health probes: keep it off the gateway's public routes.</summary>
    public static void MapMetrics(this WebApplication app) =>
        app.MapPrometheusScrapingEndpoint(MetricsPath).AllowAnonymous();

    private static bool IsProbeOrScrape(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments(MetricsPath);
}
