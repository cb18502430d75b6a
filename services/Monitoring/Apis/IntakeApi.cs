using System.Text.Json;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Health;
using AgenticFlow.Monitoring.Intake;
using AgenticFlow.Monitoring.Storage;
using Google.Protobuf;

namespace AgenticFlow.Monitoring.Apis;

/// <summary>
/// Telemetry intake, reached through Dapr invocation (services export to their own sidecar, which forwards here), not
/// through the gateway: OTLP/HTTP protobuf at <c>/v1/metrics</c>, <c>/v1/traces</c>, <c>/v1/logs</c> and Zipkin v2
/// JSON at <c>/api/v2/spans</c>. Each answers only after what it read is stored; a body that does not parse is a 400
/// and nothing of it is kept.
/// </summary>
public static class IntakeApi
{
    public const string Protobuf = "application/x-protobuf";
    public const int MaxBodyBytes = 8 * 1024 * 1024;

    /// <summary>The intake paths: never traced themselves, or each export would cause another.</summary>
    public static readonly string[] Paths = ["/v1/metrics", "/v1/traces", "/v1/logs", "/api/v2/spans"];

    public static void MapIntakeApi(this IEndpointRouteBuilder app)
    {
        // Not in the OpenAPI document: these are the exporters' protocols, reached through the sidecars, never routed
        // by the gateway.
        var intake = app.MapGroup("").WithTags("Intake").ExcludeFromDescription()
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBodyBytes));
        intake.MapPost("/v1/metrics", Metrics).Accepts<byte[]>(Protobuf).WithName("OtlpMetrics");
        intake.MapPost("/v1/traces", Traces).Accepts<byte[]>(Protobuf).WithName("OtlpTraces");
        intake.MapPost("/v1/logs", Logs).Accepts<byte[]>(Protobuf).WithName("OtlpLogs");
        intake.MapPost("/api/v2/spans", Zipkin).WithName("ZipkinSpans");
    }

    public static async Task<IResult> Metrics(HttpRequest request, ITimeSeriesStore store, HealthMonitor health, IntakeCounters counters, CancellationToken ct)
    {
        var (body, problem) = await ReadProtobufAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        List<MetricPoint> points;
        try
        {
            points = OtlpReader.ReadMetrics(body!);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return MonitoringProblems.Invalid("body", "Not an OTLP ExportMetricsServiceRequest: " + ex.Message);
        }
        try
        {
            await store.WriteAsync(points, ct);
        }
        catch (SeriesLimitException ex)
        {
            return MonitoringProblems.TooManySeries(ex.Message);
        }
        counters.Points(points.Count);
        foreach (var service in points.Select(p => p.Service).Distinct())
        {
            health.TelemetryFrom(service);
        }
        return Empty();
    }

    public static async Task<IResult> Traces(HttpRequest request, TraceStore store, HealthMonitor health, IntakeCounters counters, CancellationToken ct)
    {
        var (body, problem) = await ReadProtobufAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        List<SpanRecord> spans;
        try
        {
            spans = OtlpReader.ReadTraces(body!);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return MonitoringProblems.Invalid("body", "Not an OTLP ExportTraceServiceRequest: " + ex.Message);
        }
        store.Add(spans);
        counters.Spans(spans.Count);
        foreach (var service in spans.Select(s => s.Service).Distinct())
        {
            health.TelemetryFrom(service);
        }
        return Empty();
    }

    public static async Task<IResult> Logs(HttpRequest request, LogStore store, CancellationToken ct)
    {
        var (body, problem) = await ReadProtobufAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        try
        {
            store.Add(OtlpReader.ReadLogs(body!));
        }
        catch (InvalidProtocolBufferException ex)
        {
            return MonitoringProblems.Invalid("body", "Not an OTLP ExportLogsServiceRequest: " + ex.Message);
        }
        return Empty();
    }

    public static IResult Zipkin(JsonElement body, TraceStore store, IntakeCounters counters)
    {
        List<SpanRecord> spans;
        try
        {
            spans = ZipkinReader.Read(body);
        }
        catch (FormatException ex)
        {
            return MonitoringProblems.Invalid("body", ex.Message);
        }
        store.Add(spans);
        counters.Spans(spans.Count);
        return TypedResults.Accepted((string?)null);
    }

    private static async Task<(byte[]? Body, IResult? Problem)> ReadProtobufAsync(HttpRequest request, CancellationToken ct)
    {
        if (!(request.ContentType ?? "").StartsWith(Protobuf, StringComparison.OrdinalIgnoreCase))
        {
            return (null, TypedResults.Problem(title: "Unsupported content type", detail: $"Send OTLP as {Protobuf}.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, type: AgenticFlow.ServiceDefaults.Problems.MalformedRequest));
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, TypedResults.Problem(title: "Request body too large", statusCode: StatusCodes.Status413PayloadTooLarge, type: AgenticFlow.ServiceDefaults.Problems.MalformedRequest));
        }
        // Chunked bodies carry no Content-Length: the server stops reading past the limit (a 413 from the framework).
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        return (buffer.ToArray(), null);
    }

    /// <summary>An empty Export*ServiceResponse: full success.</summary>
    private static IResult Empty() => TypedResults.Bytes([], Protobuf);
}

/// <summary>Totals of what the intake stored since start, for the dashboard and the benchmark.</summary>
public sealed class IntakeCounters
{
    private long _points, _spans;

    public long PointsTotal => Interlocked.Read(ref _points);
    public long SpansTotal => Interlocked.Read(ref _spans);

    public void Points(int n) => Interlocked.Add(ref _points, n);
    public void Spans(int n) => Interlocked.Add(ref _spans, n);
}
