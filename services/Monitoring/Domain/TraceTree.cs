namespace AgenticFlow.Monitoring.Domain;

/// <summary>A span placed in its trace: how long after the trace began it started, and the spans it caused.</summary>
public sealed record SpanNode(
    string SpanId, string? ParentId, string Name, string Service, string Kind, DateTimeOffset Start, double OffsetMs, double DurationMs,
    bool Error, IReadOnlyDictionary<string, string> Tags, IReadOnlyList<SpanNode> Children);

public sealed record TraceView(string TraceId, DateTimeOffset Start, double DurationMs, int SpanCount, IReadOnlyList<string> Services, IReadOnlyList<SpanNode> Roots);

public static class TraceTree
{
    /// <summary>Spans as a tree by parent id; a span whose parent never arrived is a root of its own, so nothing is hidden.</summary>
    public static TraceView Build(string traceId, IReadOnlyList<SpanRecord> spans)
    {
        var start = spans.Min(s => s.Start);
        var end = spans.Max(s => s.Start + TimeSpan.FromMilliseconds(s.DurationMs));
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        var children = spans.Where(s => s.ParentId is not null && ids.Contains(s.ParentId))
            .ToLookup(s => s.ParentId!, StringComparer.Ordinal);
        SpanNode Node(SpanRecord s, int depth) => new(s.SpanId, s.ParentId, s.Name, s.Service, s.Kind, s.Start, (s.Start - start).TotalMilliseconds, s.DurationMs,
            s.Error, s.Tags, depth > 256 ? [] : children[s.SpanId].OrderBy(c => c.Start).Select(c => Node(c, depth + 1)).ToList());
        var roots = spans.Where(s => s.ParentId is null || !ids.Contains(s.ParentId)).OrderBy(s => s.Start).Select(s => Node(s, 0)).ToList();
        if (roots.Count == 0)
        {
            // Every span names a present parent: a cycle. Show it from its earliest span rather than not at all.
            roots.Add(Node(spans.MinBy(s => s.Start)!, 0));
        }
        return new TraceView(traceId, start, (end - start).TotalMilliseconds, spans.Count,
            spans.Select(s => s.Service).Where(s => s.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList(), roots);
    }
}
