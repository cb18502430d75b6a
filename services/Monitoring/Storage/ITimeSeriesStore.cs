using AgenticFlow.Monitoring.Domain;

namespace AgenticFlow.Monitoring.Storage;

/// <summary>Where metric points are kept. Aggregation happens in <see cref="MetricAggregator"/>, over the raw points a
/// store returns, so every store answers the same numbers.</summary>
public interface ITimeSeriesStore
{
    /// <summary>Completes once the points are stored.</summary>
    Task WriteAsync(IReadOnlyList<MetricPoint> points, CancellationToken ct);

    /// <summary>Points of one metric in [from, to], optionally of one service.</summary>
    Task<IReadOnlyList<MetricPoint>> ReadAsync(string name, string? service, DateTimeOffset from, DateTimeOffset to, CancellationToken ct);

    Task<IReadOnlyList<MetricDescriptor>> ListAsync(CancellationToken ct);

    /// <summary>Throws when the store cannot be reached.</summary>
    Task PingAsync(CancellationToken ct);

    string Kind { get; }
}
