using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// A SERVER span for each call a sidecar takes (its app's API calls over HTTP and gRPC, and calls forwarded by other
/// sidecars), under the caller's <c>traceparent</c>; the span is the request's feature and the
/// <see cref="SidecarTracer.Current"/> context, so the calls the sidecar makes for it hang beneath it. Calls that are
/// never traced (<see cref="SpanShape.IsTraced"/>) pass the caller's context on unchanged.
/// </summary>
public sealed class TracingMiddleware(RequestDelegate next, SidecarTracer tracer, string appId)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        TraceContext? incoming = TraceContext.TryParse(context.Request.Headers.TraceParent, context.Request.Headers.TraceState, out var parsed) ? parsed : null;
        if (!SpanShape.IsTraced(path))
        {
            SidecarTracer.Current = incoming;
            SidecarTracer.Untraced = true;
            await next(context);
            return;
        }
        SidecarTracer.Untraced = false;
        var span = tracer.Start(SpanShape.NameOf(path, appId), SpanKind.Server, incoming);
        SpanShape.Describe(span, context.Request.Method, path, appId);
        context.Features.Set(span);
        try
        {
            await next(context);
        }
        catch (Exception ex)
        {
            span.Fail(ex.GetType().Name);
            throw;
        }
        finally
        {
            if (span.Recorded && GrpcStatus(context) is { } status && status != "0")
            {
                span.Fail("grpc-status " + status);
                span.Tag("rpc.grpc.status_code", status);
            }
            span.End(context.Response.StatusCode);
        }
    }

    private static string? GrpcStatus(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            return null;
        }
        var trailers = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        var status = trailers is not null && trailers.TryGetValue("grpc-status", out var t) ? t.ToString() : context.Response.Headers["grpc-status"].ToString();
        return string.IsNullOrEmpty(status) ? null : status;
    }
}

/// <summary>The sidecar span of the call being served, where there is one.</summary>
public static class SpanFeature
{
    public static SidecarSpan? SidecarSpan(this HttpContext context) => context.Features.Get<SidecarSpan>();
}
