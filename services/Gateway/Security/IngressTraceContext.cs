using System.Diagnostics;

namespace AgenticFlow.Gateway.Security;

/// <summary>
/// The gateway is where the platform's traces begin: a client's trace context is not taken in. ASP.NET Core reads
/// the inbound <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c> through the <see cref="DistributedContextPropagator"/>
/// in DI; this one extracts nothing, so every request gets a trace of its own, sampled by the platform's rules. Taking
/// the client's context let any API key opt its calls out of tracing (sampled flag 00, followed by every hop), force
/// sampling past <c>samplingRate</c> (01), or graft its spans onto somebody else's trace. Outbound calls still carry the
/// gateway's own context (<see cref="DistributedContextPropagator.Current"/>, which this leaves alone). A client's
/// correlation id (<c>X-Correlation-Id</c>) is still kept and tagged. The one caller whose context is taken is the
/// gateway itself (an MCP tool or A2A call re-entering its REST routes, <see cref="Mcp.GatewaySelf"/>), known by a key
/// made at start that never leaves the process, so a tool call's REST request stays in the tool call's trace.
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

    /// <summary>Carries <see cref="SelfKey"/> on the gateway's calls to itself; removed from every proxied request.</summary>
    public const string SelfHeader = "X-AgenticFlow-Gateway-Self";

    /// <summary>Made at start, random, known only to this process.</summary>
    public static readonly string SelfKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public override IReadOnlyCollection<string> Fields => Headers;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        Current.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        traceId = null;
        traceState = null;
        if (getter is not null && FromSelf(carrier, getter))
        {
            Current.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
        }
    }

    private static bool FromSelf(object? carrier, PropagatorGetterCallback getter)
    {
        getter(carrier, SelfHeader, out var value, out _);
        return value is { Length: > 0 } && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(value), System.Text.Encoding.ASCII.GetBytes(SelfKey));
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) => null;
}
