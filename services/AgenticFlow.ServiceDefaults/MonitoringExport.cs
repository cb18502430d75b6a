using Microsoft.Extensions.Configuration;
using OpenTelemetry.Exporter;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Export of a service's telemetry to the monitoring service (<c>Telemetry:Monitoring</c> = a comma list of
/// <c>metrics</c>, <c>logs</c>, <c>traces</c>; unset = none). It goes as OTLP/HTTP protobuf to the service's own Dapr
/// sidecar, which invokes the monitoring app (<c>/v1.0/invoke/monitoring/method/v1/{signal}</c>): no address of
/// monitoring to configure, and the sidecar's access control applies. Every exporter works off the request path:
/// spans and log records are batched by a background processor, metrics are read every
/// <c>Telemetry:MetricExportSeconds</c> from in-process aggregates.
/// </summary>
public sealed record MonitoringExport(bool Metrics, bool Logs, bool Traces, string BaseUrl, string? Token, int MetricIntervalMs)
{
    public const string Setting = "Telemetry:Monitoring";

    public static MonitoringExport? From(IConfiguration configuration)
    {
        var signals = (configuration[Setting] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => s.ToLowerInvariant()).ToHashSet();
        if (signals.Count == 0 || signals.Contains("off"))
        {
            return null;
        }
        var sidecar = configuration["DAPR_HTTP_ENDPOINT"] ?? $"http://127.0.0.1:{configuration["DAPR_HTTP_PORT"] ?? "3500"}";
        var app = configuration["Telemetry:MonitoringAppId"] ?? "monitoring";
        var seconds = double.TryParse(configuration["Telemetry:MetricExportSeconds"], System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0.1 ? s : 10;
        return new MonitoringExport(signals.Contains("metrics"), signals.Contains("logs"), signals.Contains("traces"),
            $"{sidecar.TrimEnd('/')}/v1.0/invoke/{app}/method/v1/", configuration["DAPR_API_TOKEN"], (int)(seconds * 1000));
    }

    public void Configure(OtlpExporterOptions options, string signal)
    {
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(BaseUrl + signal);
        if (!string.IsNullOrEmpty(Token))
        {
            options.Headers = "dapr-api-token=" + Token;
        }
    }

    /// <summary>Paths that receive telemetry: never traced, or each export would cause another.</summary>
    public static bool IsIntakePath(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/v1/traces") || path.StartsWithSegments("/v1/metrics") || path.StartsWithSegments("/v1/logs") || path.StartsWithSegments("/api/v2/spans");
}
