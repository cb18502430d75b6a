namespace AgenticFlow.Monitoring.Domain;

/// <summary>One span of a trace: one hop's work (a request served, a call made), as OTLP or Zipkin described it.</summary>
public sealed record SpanRecord(
    string TraceId,
    string SpanId,
    string? ParentId,
    string Name,
    string Service,
    string Kind,
    DateTimeOffset Start,
    double DurationMs,
    bool Error,
    IReadOnlyDictionary<string, string> Tags);

/// <summary>One log record of a service, with the trace it was written in (if any).</summary>
public sealed record LogEntry(
    DateTimeOffset Time,
    string Service,
    string Level,
    string Message,
    string? Category,
    string? TraceId,
    string? SpanId,
    IReadOnlyDictionary<string, string> Attributes);

public static class LogLevels
{
    public static readonly string[] All = ["Trace", "Debug", "Information", "Warning", "Error", "Critical"];

    /// <summary>The level named by an OTLP severity number (1-4 trace ... 21-24 fatal).</summary>
    public static string FromSeverity(int number) => number switch
    {
        <= 0 => "Information",
        <= 4 => "Trace",
        <= 8 => "Debug",
        <= 12 => "Information",
        <= 16 => "Warning",
        <= 20 => "Error",
        _ => "Critical",
    };

    public static int Rank(string level) => Array.FindIndex(All, l => string.Equals(l, level, StringComparison.OrdinalIgnoreCase));
}
