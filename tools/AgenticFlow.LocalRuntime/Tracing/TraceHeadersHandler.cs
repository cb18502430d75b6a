namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// On the sidecar's calls to apps and to other sidecars: a call that has no <c>traceparent</c> of its own gets the
/// <see cref="SidecarTracer.Current"/> context (actor calls, cron bindings and other calls made for a request). The
/// handler below it must not write the .NET Activity's context over it (<c>ActivityHeadersPropagator = null</c>).
/// </summary>
public sealed class TraceHeadersHandler : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Headers.Contains(TraceContext.ParentHeader) && SidecarTracer.Current is { } current)
        {
            current.WriteTo(request);
        }
        return base.SendAsync(request, cancellationToken);
    }
}
