using System.Diagnostics;

namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// A W3C trace context: the trace, the span that is the parent of whatever comes next, whether the trace is sampled,
/// and the vendors' <c>tracestate</c>, which travels on unchanged.
/// </summary>
public readonly record struct TraceContext(ActivityTraceId TraceId, ActivitySpanId SpanId, bool Sampled, string? TraceState)
{
    public const string ParentHeader = "traceparent";
    public const string StateHeader = "tracestate";

    /// <summary>The longest tracestate passed on (as daprd: longer ones are dropped, not cut).</summary>
    public const int MaxTraceStateLength = 512;

    /// <summary><c>00-{trace}-{span}-{flags}</c>.</summary>
    public string Traceparent => $"00-{TraceId.ToHexString()}-{SpanId.ToHexString()}-{(Sampled ? "01" : "00")}";

    /// <summary>A context under the same trace with a new span id, keeping sampling and tracestate.</summary>
    public TraceContext Child(bool sampled) => this with { SpanId = ActivitySpanId.CreateRandom(), Sampled = sampled };

    /// <summary>The start of a new trace.</summary>
    public static TraceContext NewRoot(bool sampled) => new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), sampled, null);

    /// <summary>
    /// Reads a <c>traceparent</c> (and its <c>tracestate</c>): version 00 exactly four fields, later versions at least
    /// four; ids of lower-case hex digits (as W3C requires) and not all zero. Anything else is no context at all, so the request starts a new trace.
    /// </summary>
    public static bool TryParse(string? traceparent, string? tracestate, out TraceContext context)
    {
        context = default;
        if (string.IsNullOrEmpty(traceparent))
        {
            return false;
        }
        var parts = traceparent.Trim().Split('-');
        if (parts.Length < 4 || parts[0].Length != 2 || !IsHex(parts[0]) || parts[0] == "ff" || (parts[0] == "00" && parts.Length != 4))
        {
            return false;
        }
        if (parts[1].Length != 32 || parts[2].Length != 16 || parts[3].Length != 2 || !IsHex(parts[1]) || !IsHex(parts[2]) || !IsHex(parts[3])
            || parts[1].All(c => c == '0') || parts[2].All(c => c == '0'))
        {
            return false;
        }
        var flags = Convert.ToByte(parts[3], 16);
        var state = string.IsNullOrWhiteSpace(tracestate) || tracestate.Length > MaxTraceStateLength || !IsTraceState(tracestate) ? null : tracestate.Trim();
        context = new TraceContext(ActivityTraceId.CreateFromString(parts[1]), ActivitySpanId.CreateFromString(parts[2]),
            (flags & 1) == 1, state);
        return true;
    }

    /// <summary>
    /// A <c>tracestate</c> as W3C shapes it: at most 32 comma-separated <c>key=value</c> members (empty ones allowed),
    /// keys of lower-case letters, digits and <c>_-*/</c> (with one <c>@</c> for a tenant) starting with a letter or
    /// digit, values of printable ASCII without <c>,</c> and <c>=</c>, both at most 256 characters. Anything else is
    /// dropped whole: it travels to every app and into every event, and a CR/LF in one became extra headers of a delivery.
    /// </summary>
    public static bool IsTraceState(string tracestate)
    {
        var members = 0;
        foreach (var raw in tracestate.Split(','))
        {
            var member = raw.Trim(' ', '\t');
            if (member.Length == 0)
            {
                continue;
            }
            var eq = member.IndexOf('=');
            if (++members > 32 || eq <= 0 || eq > 256 || member.Length - eq - 1 is < 1 or > 256)
            {
                return false;
            }
            var key = member.AsSpan(0, eq);
            if (!(char.IsAsciiLetterLower(key[0]) || char.IsAsciiDigit(key[0])) || key.Count('@') > 1)
            {
                return false;
            }
            foreach (var c in key)
            {
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-' or '*' or '/' or '@'))
                {
                    return false;
                }
            }
            foreach (var c in member.AsSpan(eq + 1))
            {
                if (c is < ' ' or > '~' or ',' or '=')
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool IsHex(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Writes this context as the <c>traceparent</c> and <c>tracestate</c> of an outgoing call.</summary>
    public void WriteTo(HttpRequestMessage request)
    {
        request.Headers.Remove(ParentHeader);
        request.Headers.Remove(StateHeader);
        request.Headers.TryAddWithoutValidation(ParentHeader, Traceparent);
        if (!string.IsNullOrEmpty(TraceState))
        {
            request.Headers.TryAddWithoutValidation(StateHeader, TraceState);
        }
    }
}
