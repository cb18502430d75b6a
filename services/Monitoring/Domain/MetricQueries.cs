using AgenticFlow.Monitoring.Storage;

namespace AgenticFlow.Monitoring.Domain;

/// <summary>Reads a metric's points for a filter (<c>service</c> and any tags, all must match) and aggregates them.</summary>
public sealed class MetricQueries(ITimeSeriesStore store)
{
    public async Task<IReadOnlyList<MetricPoint>> PointsAsync(string name, IReadOnlyDictionary<string, string> filter, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        // From one window back, so the first step's increase has its baseline.
        var points = await store.ReadAsync(name, filter.GetValueOrDefault("service"), from, to, ct);
        return points.Where(p => filter.All(f => f.Key == "service" ? p.Service == f.Value : p.Tags.TryGetValue(f.Key, out var v) && v == f.Value)).ToList();
    }

    public async Task<IReadOnlyList<Series>> SeriesAsync(string name, IReadOnlyDictionary<string, string> filter, DateTimeOffset from, DateTimeOffset to, TimeSpan step, string agg, CancellationToken ct)
    {
        var points = await PointsAsync(name, filter, from - step, to, ct);
        return MetricAggregator.Aggregate(points, from, to, step, agg);
    }

    /// <summary>One series per combination of the <paramref name="groupBy"/> attributes' values.</summary>
    public async Task<IReadOnlyList<GroupedSeries>> GroupedSeriesAsync(string name, IReadOnlyDictionary<string, string> filter, IReadOnlyList<string> groupBy, DateTimeOffset from, DateTimeOffset to, TimeSpan step, string agg, CancellationToken ct)
    {
        var points = await PointsAsync(name, filter, from - step, to, ct);
        return MetricAggregator.AggregateBy(points, groupBy, from, to, step, agg);
    }

    /// <summary>One value over the window that ends at <paramref name="now"/>, all matching series together.</summary>
    public async Task<double?> ValueAsync(string name, IReadOnlyDictionary<string, string> filter, TimeSpan window, string agg, DateTimeOffset now, CancellationToken ct)
    {
        var from = now - window;
        var points = await PointsAsync(name, filter, from - window, now, ct);
        var series = points.GroupBy(p => p.SeriesKey).Select(g => g.OrderBy(p => p.Time).ToList()).ToList();
        return MetricAggregator.Window(series, from, now + TimeSpan.FromTicks(1), agg);
    }
}
