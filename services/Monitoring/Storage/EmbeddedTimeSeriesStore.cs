using AgenticFlow.Monitoring.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Storage;

/// <summary>A write would create more series than the store holds (<see cref="MonitoringOptions.MaxSeries"/>).</summary>
public sealed class SeriesLimitException(int limit) : Exception($"The store holds at most {limit} series; nothing of this write was stored.");

/// <summary>Points in this process's memory, each series a time-ordered list trimmed to the retention window: the
/// default of <c>tools/run.sh</c>, needing no server. Points are gone when the process stops. Memory is bounded: at
/// most <see cref="MonitoringOptions.MaxSeries"/> series (a write that would pass it is refused whole), and every
/// half minute expired points and series that became empty are swept, whether or not they get new points.</summary>
public sealed class EmbeddedTimeSeriesStore(IOptions<MonitoringOptions> options, TimeProvider time) : ITimeSeriesStore
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromSeconds(30);
    private DateTimeOffset _lastSweep = time.GetUtcNow();
    private int _seriesCount;

    private readonly Dictionary<string, Dictionary<string, List<MetricPoint>>> _byMetric = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeSpan _retention = TimeSpan.FromMinutes(options.Value.RetentionMinutes);

    public string Kind => "embedded";

    public Task WriteAsync(IReadOnlyList<MetricPoint> points, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var horizon = now - _retention;
        lock (_lock)
        {
            if (now - _lastSweep >= SweepEvery)
            {
                Sweep(horizon);
                _lastSweep = now;
            }
            var added = points.Select(p => (p.Name, p.SeriesKey)).Distinct()
                .Count(k => !_byMetric.TryGetValue(k.Name, out var known) || !known.ContainsKey(k.SeriesKey));
            if (_seriesCount + added > options.Value.MaxSeries)
            {
                throw new SeriesLimitException(options.Value.MaxSeries);
            }
            foreach (var point in points)
            {
                if (!_byMetric.TryGetValue(point.Name, out var series))
                {
                    _byMetric[point.Name] = series = new Dictionary<string, List<MetricPoint>>(StringComparer.Ordinal);
                }
                if (!series.TryGetValue(point.SeriesKey, out var list))
                {
                    series[point.SeriesKey] = list = [];
                    _seriesCount++;
                }
                var at = list.Count;
                while (at > 0 && list[at - 1].Time > point.Time)
                {
                    at--;
                }
                list.Insert(at, point);
                var expired = 0;
                while (expired < list.Count && list[expired].Time < horizon)
                {
                    expired++;
                }
                list.RemoveRange(0, expired);
            }
        }
        return Task.CompletedTask;
    }

    public int SeriesCount { get { lock (_lock) { return _seriesCount; } } }

    private void Sweep(DateTimeOffset horizon)
    {
        foreach (var (name, series) in _byMetric.ToList())
        {
            foreach (var (key, list) in series.ToList())
            {
                list.RemoveAll(p => p.Time < horizon);
                if (list.Count == 0)
                {
                    series.Remove(key);
                    _seriesCount--;
                }
            }
            if (series.Count == 0)
            {
                _byMetric.Remove(name);
            }
        }
    }

    public Task<IReadOnlyList<MetricPoint>> ReadAsync(string name, string? service, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        lock (_lock)
        {
            IReadOnlyList<MetricPoint> found = _byMetric.TryGetValue(name, out var series)
                ? series.Values.SelectMany(l => l).Where(p => p.Time >= from && p.Time <= to && (service is null || p.Service == service)).ToList()
                : [];
            return Task.FromResult(found);
        }
    }

    public Task<IReadOnlyList<MetricDescriptor>> ListAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            IReadOnlyList<MetricDescriptor> list = _byMetric
                .Where(m => m.Value.Values.Any(l => l.Count > 0))
                .Select(m => new MetricDescriptor(m.Key, m.Value.Values.First(l => l.Count > 0)[0].Kind,
                    m.Value.Values.SelectMany(l => l).Select(p => p.Service).Distinct().Order(StringComparer.Ordinal).ToList()))
                .OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
            return Task.FromResult(list);
        }
    }

    public Task PingAsync(CancellationToken ct) => Task.CompletedTask;
}
