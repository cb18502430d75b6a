using System.Diagnostics;

namespace AgenticFlow.Gateway.Security;

/// <summary>
/// The gateway is where the platform's traces begin: a client's trace context is not taken in. ASP.NET Core reads
/// the inbound <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c> through the <see cref="DistributedContextPropagator"/>
/// in DI; this one extracts nothing, so every request gets a trace of its own, sampled by the platform's rules. Taking
/// the client's context let any API key opt its calls out of tracing (sampled flag 00, followed by every hop), force
/// sampling past <c>samplingRate</c> (01), or graft its spans onto somebody else's trace. Outbound calls still carry the
/// gateway's own context (<see cref="DistributedContextPropagator.Current"/>, which this leaves alone). A client's
/// correlation id (<c>X-Correlation-Id</c>) is still kept and tagged.
/// </summary>
public sealed class IngressTraceContext : DistributedContextPropagator
{
    /// <summary>Makes the gateway's requests start their own traces.</summary>
    public static void Use(IServiceCollection services)
    {
        services.AddSingleton<DistributedContextPropagator>(new IngressTraceContext());
        // OpenTelemetry's ASP.NET Core instrumentation extracts the context again, itself, whenever the process's
        // OpenTelemetry propagator is anything but W3C trace context alone (its default adds baggage), and would parent
        // its span on the client's context after all. With trace context alone it keeps the span hosting started, and
        // outbound calls are given the gateway's context by .NET's own handler.
        OpenTelemetry.Sdk.SetDefaultTextMapPropagator(new OpenTelemetry.Context.Propagation.TraceContextPropagator());
    }

    /// <summary>The request headers that carry a trace context, in either format .NET reads, and baggage.</summary>
    public static readonly string[] Headers = ["traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context"];

    public override IReadOnlyCollection<string> Fields => Headers;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        Current.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        traceId = null;
        traceState = null;
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) => null;
}
