namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// The spans of one sidecar, as daprd makes them under its Configuration's <c>spec.tracing</c>. Sampling follows the
/// parent: a call that carries a sampled traceparent is recorded, an unsampled one is not, and a call without one
/// starts a trace that is sampled with the probability <c>samplingRate</c> (decided from the trace id, so every
/// sidecar that sees the same root agrees). While tracing is on every hop gets a new span id, recorded or not, so the
/// context passed on is this hop's; with tracing off the caller's context passes through untouched, as with daprd at
/// rate 0. Finished spans go to the <see cref="SpanExporter"/>.
/// </summary>
public sealed class SidecarTracer : IAsyncDisposable
{
    private static readonly AsyncLocal<TraceContext?> CurrentContext = new();
    private static readonly AsyncLocal<bool> UntracedCall = new();
    private readonly SpanExporter? _exporter;

    public SidecarTracer(string serviceName, TracingSpec spec, SpanExporter? exporter, TimeProvider? time = null)
    {
        ServiceName = serviceName;
        Spec = spec;
        Time = time ?? TimeProvider.System;
        _exporter = spec.Records ? exporter : null;
    }

    /// <summary>A tracer that records nothing (no Configuration, or tracing off), still passing contexts on.</summary>
    public static SidecarTracer Disabled(string serviceName) => new(serviceName, TracingSpec.Off, null);

    /// <summary>The name the sidecar's spans carry (<c>{appId}-sidecar</c>), so each hop shows apart from its app.</summary>
    public string ServiceName { get; }
    public TracingSpec Spec { get; }
    public TimeProvider Time { get; }
    public bool Records => _exporter is not null;
    public SpanExporter? Exporter => _exporter;

    /// <summary>The trace context of the call this code runs for (flows with async calls, also into a colocated sidecar).</summary>
    public static TraceContext? Current
    {
        get => CurrentContext.Value;
        set => CurrentContext.Value = value;
    }

    /// <summary>True while serving a call that is never traced (<see cref="SpanShape.IsTraced"/>): spans started for
    /// it record nothing and pass the caller's context on as it came.</summary>
    public static bool Untraced
    {
        get => UntracedCall.Value;
        set => UntracedCall.Value = value;
    }

    /// <summary>Starts a span under <paramref name="parent"/> (or a new trace) and makes its context <see cref="Current"/>.</summary>
    public SidecarSpan Start(string name, SpanKind kind, TraceContext? parent)
    {
        if (Untraced || _exporter is null)
        {
            // Not traced (or tracing off, as daprd with rate 0 installs no tracing at all): the caller's context, or none,
            // travels on exactly as it came, so an app that records its own spans keeps its parent and its sampling.
            Current = parent;
            return new SidecarSpan(null, name, kind, parent, parent?.SpanId.ToHexString(), default, 0);
        }
        bool sampled;
        TraceContext context;
        if (parent is { } p)
        {
            sampled = p.Sampled;
            context = p.Child(sampled);
        }
        else
        {
            context = TraceContext.NewRoot(false);
            sampled = SampledByRate(context.TraceId.ToHexString(), Spec.SamplingRate);
            context = context with { Sampled = sampled };
        }
        var recording = sampled && _exporter is not null;
        var span = new SidecarSpan(recording ? this : null, name, kind, context, parent?.SpanId.ToHexString(),
            recording ? Time.GetUtcNow() : default, recording ? Time.GetTimestamp() : 0);
        Current = context;
        return span;
    }

    /// <summary>Whether a new trace is sampled at <paramref name="rate"/>: the trace id's last 16 hex digits read as a
    /// fraction of 2^64 below the rate (the TraceIdRatio rule), so 1 samples all and 0 none.</summary>
    public static bool SampledByRate(string traceId, double rate)
    {
        if (rate >= 1)
        {
            return true;
        }
        if (rate <= 0)
        {
            return false;
        }
        var low = Convert.ToUInt64(traceId[16..], 16) >> 1;
        return low < (ulong)(rate * (1UL << 63));
    }

    internal void Finished(SidecarSpan span) => _exporter?.Enqueue(span);

    /// <summary>Sends what is still queued (briefly) and stops the exporter.</summary>
    public ValueTask DisposeAsync() => _exporter?.DisposeAsync() ?? ValueTask.CompletedTask;
}
