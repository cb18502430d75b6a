namespace AgenticFlow.Monitoring.Domain;

public enum MetricKind { Gauge, Counter, Histogram }

/// <summary>
/// One sample of one series (metric name + service + tags). Counters and histograms are cumulative, as OpenTelemetry
/// exports them by default: a window's increase is the difference between samples. A histogram sample carries its
/// bucket upper bounds and the count in each bucket since the series began (the last bucket unbounded), its total count
/// (<see cref="Value"/>) and sum. <see cref="Start"/> is when a cumulative series began counting (OTLP's start time):
/// a series that began inside a window counts from zero there.
/// </summary>
public sealed record MetricPoint(
    string Name,
    string Service,
    IReadOnlyDictionary<string, string> Tags,
    DateTimeOffset Time,
    MetricKind Kind,
    double Value,
    double Sum = 0,
    double[]? Bounds = null,
    long[]? Buckets = null,
    DateTimeOffset? Start = null)
{
    /// <summary>Identifies the series: name, service and the tags in key order, each part escaped so that no two series
    /// share a key (tags <c>{a: "1,b=2"}</c> and <c>{a: "1", b: "2"}</c> are two series).</summary>
    public string SeriesKey => Escape(Name) + "|" + Escape(Service) + "|" + string.Join(",", Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => Escape(t.Key) + "=" + Escape(t.Value)));

    private static string Escape(string part) =>
        part.AsSpan().IndexOfAny("\\|,=") < 0 ? part
            : part.Replace("\\", "\\\\").Replace("|", "\\|").Replace(",", "\\,").Replace("=", "\\=");
}

/// <summary>What exists: a metric, its kind and the services that report it.</summary>
public sealed record MetricDescriptor(string Name, MetricKind Kind, IReadOnlyList<string> Services);

public static class Aggregations
{
    public static readonly string[] All = ["avg", "sum", "min", "max", "count", "rate", "p50", "p95", "p99"];

    public static bool IsKnown(string? agg) => agg is not null && All.Contains(agg);

    public static double? Quantile(string agg) => agg switch
    {
        "p50" => 0.50,
        "p95" => 0.95,
        "p99" => 0.99,
        _ => null,
    };
}
