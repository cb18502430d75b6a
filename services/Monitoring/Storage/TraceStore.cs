using AgenticFlow.Monitoring.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Storage;

/// <summary>A trace's summary for search results: its root (or earliest) span, its length and who took part.</summary>
public sealed record TraceSummary(string TraceId, string RootName, string RootService, DateTimeOffset Start, double DurationMs, int Spans, bool Error, IReadOnlyList<string> Services);

/// <summary>Spans kept in memory by trace, the oldest traces dropped once <see cref="MonitoringOptions.MaxSpans"/>
/// is passed or they age past the retention window. A span sent twice (same trace and span id) is kept once.</summary>
public sealed class TraceStore(IOptions<MonitoringOptions> options, TimeProvider time)
{
    private readonly Dictionary<string, Dictionary<string, SpanRecord>> _traces = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _order = new();
    private readonly Dictionary<string, LinkedListNode<string>> _nodes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _count;

    public int Count { get { lock (_lock) { return _count; } } }

    public int TraceCount { get { lock (_lock) { return _traces.Count; } } }

    public void Add(IEnumerable<SpanRecord> spans)
    {
        lock (_lock)
        {
            foreach (var span in spans)
            {
                if (!_traces.TryGetValue(span.TraceId, out var trace))
                {
                    _traces[span.TraceId] = trace = new Dictionary<string, SpanRecord>(StringComparer.Ordinal);
                    _nodes[span.TraceId] = _order.AddLast(span.TraceId);
                }
                if (trace.TryAdd(span.SpanId, span))
                {
                    _count++;
                }
            }
            var horizon = time.GetUtcNow() - TimeSpan.FromMinutes(options.Value.RetentionMinutes);
            while (_order.First is { } oldest && (_count > options.Value.MaxSpans || _traces[oldest.Value].Values.All(s => s.Start < horizon)))
            {
                _count -= _traces[oldest.Value].Count;
                _traces.Remove(oldest.Value);
                _nodes.Remove(oldest.Value);
                _order.RemoveFirst();
            }
        }
    }

    public IReadOnlyList<SpanRecord>? Get(string traceId)
    {
        lock (_lock)
        {
            return _traces.TryGetValue(traceId, out var trace) ? trace.Values.OrderBy(s => s.Start).ToList() : null;
        }
    }

    public IReadOnlyList<TraceSummary> Search(string? service, double? minDurationMs, bool? error, DateTimeOffset? from, DateTimeOffset? to, int limit)
    {
        lock (_lock)
        {
            var found = new List<TraceSummary>();
            for (var node = _order.Last; node is not null && found.Count < limit; node = node.Previous)
            {
                var summary = Summarize(node.Value, _traces[node.Value].Values);
                if ((service is null || summary.Services.Contains(service))
                    && (minDurationMs is null || summary.DurationMs >= minDurationMs)
                    && (error is null || summary.Error == error)
                    && (from is null || summary.Start >= from)
                    && (to is null || summary.Start <= to))
                {
                    found.Add(summary);
                }
            }
            return found;
        }
    }

    private static TraceSummary Summarize(string traceId, IEnumerable<SpanRecord> spans)
    {
        var list = spans.ToList();
        var ids = list.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        // A trace whose spans all name a parent that is present (a cycle) still has a first span to show.
        var root = list.Where(s => s.ParentId is null || !ids.Contains(s.ParentId)).OrderBy(s => s.Start).FirstOrDefault() ?? list.MinBy(s => s.Start)!;
        var start = list.Min(s => s.Start);
        var end = list.Max(s => s.Start + TimeSpan.FromMilliseconds(s.DurationMs));
        return new TraceSummary(traceId, root.Name, root.Service, start, (end - start).TotalMilliseconds, list.Count, list.Any(s => s.Error),
            list.Select(s => s.Service).Where(s => s.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList());
    }
}
