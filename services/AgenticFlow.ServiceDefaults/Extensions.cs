using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AgenticFlow.ServiceDefaults;

/// <summary>What every AgenticFlow service gets: OpenTelemetry, health endpoints that include the Dapr
/// sidecar, problem details, the Dapr client, OpenAPI, and the app API token check.</summary>
public static class Extensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // dapr run sets APP_PORT (the port its sidecar calls), not ASPNETCORE_URLS: listen there unless told otherwise.
        // Loopback only, where the sidecar lives; a container sets ASPNETCORE_URLS to listen on its pod address.
        if (builder is WebApplicationBuilder web && builder.Configuration["APP_PORT"] is { Length: > 0 } appPort
            && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            web.WebHost.UseUrls($"http://127.0.0.1:{appPort}");
        }
        builder.ConfigureOpenTelemetry();
        builder.Services.AddProblemDetails();
        builder.Services.AddBadInputHandling();
        builder.Services.AddOpenApi();
        // DaprClient reads DAPR_HTTP_PORT, DAPR_GRPC_PORT and DAPR_API_TOKEN from the environment.
        builder.Services.AddDaprClient();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<DaprSidecarHealthCheck>("dapr-sidecar", tags: [ReadyTag]);
        builder.Services.AddOptions<AppTokenOptions>()
            .Configure(o => o.Token = builder.Configuration["APP_API_TOKEN"]);
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        var telemetry = builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("AgenticFlow.*")
                // Microsoft.Extensions.AI's UseOpenTelemetry records the GenAI client metrics without the agent; the same
                // calls are recorded with it by GenAiMetricsChatClient, so its copies are not exported (no double count).
                .AddView(instrument => instrument.Meter.Name == GenAiTelemetry.SourceName
                    && instrument.Name is GenAiTelemetry.TokenUsage or GenAiTelemetry.OperationDuration ? MetricStreamConfiguration.Drop : null));
        // Traces only where a collector takes them (OTEL_EXPORTER_OTLP_ENDPOINT, as OpenTelemetry's conventions expect):
        // listening without exporting made every request on every hop create, tag and stop activities nobody read.
        // Correlation ids (X-Correlation-Id) do not depend on it.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, "AgenticFlow.*", "Grpc.Net.Client")
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsHealthPath(context.Request.Path))
                .AddHttpClientInstrumentation());
            telemetry.UseOtlpExporter();
        }
        // Otherwise, to the monitoring service when Telemetry:Monitoring asks (OpenTelemetry refuses UseOtlpExporter
        // beside per-signal exporters, so a configured collector takes precedence).
        else if (MonitoringExport.From(builder.Configuration) is { } export)
        {
            builder.AddMonitoringExport(telemetry, export);
        }
        return builder;
    }

    private static void AddMonitoringExport<TBuilder>(this TBuilder builder, OpenTelemetryBuilder telemetry, MonitoringExport export) where TBuilder : IHostApplicationBuilder
    {
        // service.name is the Dapr app id where there is one, so telemetry and health name services alike.
        var service = builder.Configuration["APP_ID"] is { Length: > 0 } appId ? appId : AppIdOf(builder.Environment.ApplicationName);
        telemetry.ConfigureResource(r => r.AddService(service));
        if (export.Metrics)
        {
            telemetry.WithMetrics(metrics => metrics.AddOtlpExporter((o, reader) =>
            {
                export.Configure(o, "metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = export.MetricIntervalMs;
            }));
        }
        if (export.Logs)
        {
            telemetry.WithLogging(logging => logging.AddOtlpExporter(o => export.Configure(o, "logs")));
        }
        if (export.Traces)
        {
            // Grpc.Net.Client: the DaprClient's gRPC calls to the sidecar, the parent of their HTTP spans (unrecorded, each
            // would leave its HTTP span, and the sidecar's span beneath it, a root of its own).
            telemetry.WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, "AgenticFlow.*", "Grpc.Net.Client")
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsHealthPath(context.Request.Path) && !MonitoringExport.IsIntakePath(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(o => export.Configure(o, "traces")));
        }
    }

    /// <summary>The app id a service has in dapr.yaml when nothing names it: its assembly name without the
    /// <c>AgenticFlow.</c> prefix, in lower case (AgenticFlow.Messaging → messaging).</summary>
    public static string AppIdOf(string applicationName) =>
        (applicationName.StartsWith("AgenticFlow.", StringComparison.Ordinal) ? applicationName["AgenticFlow.".Length..] : applicationName).ToLowerInvariant();

    /// <summary>Maps <c>/healthz</c> (the process answers), <c>/readyz</c> (it and its sidecar can serve), and <c>/openapi/v1.json</c>,
    /// and, unless the service is the ingress itself, refuses calls that did not come through the sidecar when APP_API_TOKEN is set.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, bool requireSidecarToken = true)
    {
        app.UseExceptionHandler();
        // Error answers without a body (415, 405, 404 from routing) get one: problem details, or the writer of the
        // path's surface (OpenAI's error shape under /v1 of the providers service).
        app.UseStatusCodePages(BadInputHandler.WriteStatusAsync);
        if (requireSidecarToken)
        {
            app.UseMiddleware<AppTokenCheck>();
        }
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = _ => true });
        app.MapOpenApi();
        return app;
    }

    /// <summary>Exactly the two health endpoints: nothing below them is exempt from tokens or rate limits.</summary>
    public static bool IsHealthPath(PathString path) =>
        path.Equals("/healthz", StringComparison.OrdinalIgnoreCase) || path.Equals("/readyz", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Ready only while the Dapr sidecar answers its outbound health check (its components are up).</summary>
public sealed class DaprSidecarHealthCheck(DaprClient dapr) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await dapr.CheckOutboundHealthAsync(cancellationToken)
                ? HealthCheckResult.Healthy("sidecar is up")
                : HealthCheckResult.Unhealthy("sidecar is not ready");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy("sidecar is unreachable", ex);
        }
    }
}

public sealed class AppTokenOptions
{
    public string? Token { get; set; }
}

/// <summary>With APP_API_TOKEN set, only the sidecar (which sends it as <c>dapr-api-token</c>) may call the app;
/// health endpoints stay open for the orchestrator's probes.</summary>
public sealed class AppTokenCheck(RequestDelegate next, Microsoft.Extensions.Options.IOptions<AppTokenOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var token = options.Value.Token;
        if (!string.IsNullOrEmpty(token) && !Extensions.IsHealthPath(context.Request.Path)
            && !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(context.Request.Headers["dapr-api-token"].ToString()),
                System.Text.Encoding.UTF8.GetBytes(token)))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await Results.Problem(
                title: "Unauthorized",
                detail: "Calls to this service must come through its Dapr sidecar.",
                statusCode: StatusCodes.Status401Unauthorized,
                type: "https://agenticflow.dev/problems/unauthorized").ExecuteAsync(context);
            return;
        }
        await next(context);
    }
}
