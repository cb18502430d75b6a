namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>Zipkin's span kinds: SERVER for a call the sidecar takes, CLIENT for one it makes.</summary>
public enum SpanKind
{
    Server,
    Client,
}

/// <summary>
/// One hop of a sidecar. Its <see cref="Context"/> is what the next hop sees as its parent; only a span that is
/// <see cref="Recorded"/> keeps attributes and is sent, so an unsampled one costs two ids and nothing more.
/// </summary>
public sealed class SidecarSpan
{
    private readonly SidecarTracer? _tracer;
    private readonly long _started;
    private Dictionary<string, string>? _tags;
    private int _ended;

    internal SidecarSpan(SidecarTracer? tracer, string name, SpanKind kind, TraceContext? context, string? parentId, DateTimeOffset start, long started)
    {
        _tracer = tracer;
        Name = name;
        Kind = kind;
        Context = context;
        ParentId = parentId;
        Start = start;
        _started = started;
    }

    public string Name { get; set; }
    public SpanKind Kind { get; }
    /// <summary>The context the next hop gets; null only for an untraced call that came without one.</summary>
    public TraceContext? Context { get; }

    /// <summary>The parent's span id (16 hex digits); null for the root of a trace.</summary>
    public string? ParentId { get; }
    public DateTimeOffset Start { get; }
    public TimeSpan Duration { get; private set; }
    public bool Recorded => _tracer is not null;
    public bool Error { get; private set; }
    public string? ServiceName => _tracer?.ServiceName;
    public IReadOnlyDictionary<string, string> Tags => (IReadOnlyDictionary<string, string>?)_tags ?? new Dictionary<string, string>();

    /// <summary>Writes this span's context (traceparent, tracestate) on an outgoing call, where it has one.</summary>
    public void Propagate(HttpRequestMessage request) => Context?.WriteTo(request);

    /// <summary>Sets an attribute (ignored when the span is not recorded, or the value is empty).</summary>
    public SidecarSpan Tag(string key, string? value)
    {
        if (_tracer is not null && !string.IsNullOrEmpty(value))
        {
            (_tags ??= new Dictionary<string, string>(StringComparer.Ordinal))[key] = value;
        }
        return this;
    }

    /// <summary>Marks the span failed, with what went wrong.</summary>
    public void Fail(string message)
    {
        Error = true;
        Tag("error", message);
    }

    /// <summary>Ends the span with the HTTP status of its call: 400 and above fail it, as daprd's status mapping does.
    /// The status is kept as <c>dapr.status_code</c>, as daprd does.</summary>
    public void End(int? statusCode = null)
    {
        if (statusCode is { } code)
        {
            Tag("dapr.status_code", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (code >= 400)
            {
                Error = true;
                Tag("error", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        if (Interlocked.Exchange(ref _ended, 1) == 1 || _tracer is null)
        {
            return;
        }
        Duration = _tracer.Time.GetElapsedTime(_started);
        _tracer.Finished(this);
    }
}
