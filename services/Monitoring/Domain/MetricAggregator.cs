namespace AgenticFlow.Monitoring.Domain;

/// <summary>One value of a series at the start of a step.</summary>
public sealed record SeriesValue(DateTimeOffset Time, double Value);

public sealed record Series(string Service, IReadOnlyList<SeriesValue> Points);

/// <summary>The values of the points whose attributes (<c>service</c> or any tag) have these values; a point without
/// one of the attributes falls in the group where it is empty.</summary>
public sealed record GroupedSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<SeriesValue> Points);

/// <summary>
/// Turns raw samples into one value per step and service. Every aggregation has one meaning per kind:
/// <list type="bullet">
/// <item>gauges: the samples inside the step (avg, sum, min, max, count, quantiles by rank; rate is the change per second);</item>
/// <item>counters: each series' increase over the step (reset-aware), summed over the service's series for
/// sum/count, per second for rate, and compared across series for avg/min/max;</item>
/// <item>histograms: the bucket increases over the step merged over the service's series; count and rate are
/// observations, sum and avg their values, quantiles interpolated inside buckets, min/max the bounds of the lowest
/// and highest non-empty bucket.</item>
/// </list>
/// A step without samples has no value (it is left out, not reported as zero).
/// </summary>
public static class MetricAggregator
{
    public static IReadOnlyList<Series> Aggregate(IEnumerable<MetricPoint> points, DateTimeOffset from, DateTimeOffset to, TimeSpan step, string agg) =>
        points.GroupBy(p => p.Service).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(byService => new Series(byService.Key, Steps(SeriesOf(byService), from, to, step, agg))).ToList();

    /// <summary>As <see cref="Aggregate"/>, one series per combination of values of <paramref name="groupBy"/>
    /// (<c>service</c> or tag keys) instead of per service, ordered by those values. Each group aggregates its own
    /// series only, so a group's sum is the sum of its points' increases and its quantiles come from its buckets alone.
    /// The points are split into series once; a series' attributes are the same on all its points, so groups are made
    /// of whole series.</summary>
    public static IReadOnlyList<GroupedSeries> AggregateBy(IEnumerable<MetricPoint> points, IReadOnlyList<string> groupBy, DateTimeOffset from, DateTimeOffset to, TimeSpan step, string agg) =>
        SeriesOf(points)
            .GroupBy(series => string.Join('\u001f', groupBy.Select(k => LabelOf(series[0], k))), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new GroupedSeries(groupBy.ToDictionary(k => k, k => LabelOf(g.First()[0], k), StringComparer.Ordinal), Steps(g.ToList(), from, to, step, agg)))
            .ToList();

    /// <summary>A point's value of an attribute: its service for <c>service</c>, else the tag's value ("" when absent).</summary>
    public static string LabelOf(MetricPoint point, string key) =>
        key == "service" ? point.Service : point.Tags.TryGetValue(key, out var value) ? value : "";

    /// <summary>The points split into their series, each in time order. A histogram series that began after another
    /// series of the same process had already been exported (same service and OTLP start time, an earlier sample) did not
    /// exist at that export (histograms are synchronous instruments, and a cumulative exporter sends every series of them
    /// each time): it counted from zero, so it gets a zero sample just before its first, and its first observations are
    /// counted. Counters are left alone: an observable counter is exported only when observed, so a gap proves nothing.
    /// Without such evidence (the store began receiving with that very export) nothing is assumed.</summary>
    private static List<List<MetricPoint>> SeriesOf(IEnumerable<MetricPoint> points)
    {
        var series = points.GroupBy(p => p.SeriesKey, StringComparer.Ordinal).Select(g => g.OrderBy(p => p.Time).ToList()).ToList();
        var earliest = new Dictionary<(string Service, DateTimeOffset Start), DateTimeOffset>();
        foreach (var s in series)
        {
            if (s[0] is { Kind: MetricKind.Histogram, Start: { } began } first
                && (!earliest.TryGetValue((first.Service, began), out var seen) || first.Time < seen))
            {
                earliest[(first.Service, began)] = first.Time;
            }
        }
        foreach (var s in series)
        {
            if (s[0] is { Kind: MetricKind.Histogram, Start: { } began } first && began < first.Time
                && earliest.TryGetValue((first.Service, began), out var exported) && exported < first.Time)
            {
                s.Insert(0, Zero(first) with { Time = first.Time - TimeSpan.FromTicks(1) });
            }
        }
        return series;
    }

    private static List<SeriesValue> Steps(IReadOnlyList<List<MetricPoint>> series, DateTimeOffset from, DateTimeOffset to, TimeSpan step, string agg)
    {
        var values = new List<SeriesValue>();
        for (var start = from; start < to; start += step)
        {
            var end = start + step > to ? to : start + step;
            if (Window(series, start, end, agg) is { } value)
            {
                values.Add(new SeriesValue(start, value));
            }
        }
        return values;
    }

    /// <summary>One value for the samples of <paramref name="series"/> in [start, end); null when there are none.</summary>
    public static double? Window(IReadOnlyList<List<MetricPoint>> series, DateTimeOffset start, DateTimeOffset end, string agg)
    {
        var kind = series.SelectMany(s => s).Select(p => (MetricKind?)p.Kind).FirstOrDefault();
        var seconds = Math.Max((end - start).TotalSeconds, 1e-9);
        switch (kind)
        {
            case MetricKind.Gauge:
                var samples = series.SelectMany(s => s).Where(p => p.Time >= start && p.Time < end).OrderBy(p => p.Time).Select(p => p.Value).ToList();
                if (samples.Count == 0)
                {
                    return null;
                }
                return agg switch
                {
                    "avg" => samples.Average(),
                    "sum" => samples.Sum(),
                    "min" => samples.Min(),
                    "max" => samples.Max(),
                    "count" => samples.Count,
                    "rate" => (samples[^1] - samples[0]) / seconds,
                    _ => RankQuantile(samples, Aggregations.Quantile(agg) ?? 0.5),
                };
            case MetricKind.Counter:
                var increases = series.Select(s => Increase(s, start, end)).OfType<double>().ToList();
                if (increases.Count == 0)
                {
                    return null;
                }
                return agg switch
                {
                    "sum" or "count" => increases.Sum(),
                    "rate" => increases.Sum() / seconds,
                    "avg" => increases.Average(),
                    "min" => increases.Min(),
                    "max" => increases.Max(),
                    _ => RankQuantile(increases, Aggregations.Quantile(agg) ?? 0.5),
                };
            case MetricKind.Histogram:
                return HistogramWindow(series, start, end, agg, seconds);
            default:
                return null;
        }
    }

    private static double? HistogramWindow(IReadOnlyList<List<MetricPoint>> series, DateTimeOffset start, DateTimeOffset end, string agg, double seconds)
    {
        double[]? bounds = null;
        long[]? merged = null;
        double count = 0, sum = 0;
        var any = false;
        foreach (var s in series)
        {
            var (last, baseline) = Ends(s, start, end);
            if (last?.Bounds is null || last.Buckets is null)
            {
                continue;
            }
            any = true;
            if (baseline is null)
            {
                continue; // One sample and nothing before it: no increase is known (as for counters), not its lifetime total.
            }
            var reset = baseline.Value > last.Value || baseline.Buckets is null || baseline.Buckets.Length != last.Buckets.Length;
            count += reset ? last.Value : last.Value - baseline!.Value;
            sum += reset ? last.Sum : last.Sum - baseline!.Sum;
            if (bounds is null)
            {
                bounds = last.Bounds;
                merged = new long[last.Buckets.Length];
            }
            if (!bounds.SequenceEqual(last.Bounds))
            {
                continue; // Series with other bounds cannot be merged bucket by bucket; they still count.
            }
            for (var i = 0; i < merged!.Length; i++)
            {
                merged[i] += last.Buckets[i] - (reset ? 0 : baseline!.Buckets![i]);
            }
        }
        if (!any)
        {
            return null;
        }
        return agg switch
        {
            "count" => count,
            "rate" => count / seconds,
            "sum" => sum,
            "avg" => count > 0 ? sum / count : null,
            "min" => count > 0 ? BucketEdge(bounds!, merged!, lowest: true) : null,
            "max" => count > 0 ? BucketEdge(bounds!, merged!, lowest: false) : null,
            _ => count > 0 ? BucketQuantile(bounds!, merged!, Aggregations.Quantile(agg) ?? 0.5) : null,
        };
    }

    /// <summary>The increase of one cumulative series over [start, end): from the last sample before the window (or
    /// the first inside it) to the last inside it; a drop means the process restarted and counted again from zero.</summary>
    public static double? Increase(IReadOnlyList<MetricPoint> series, DateTimeOffset start, DateTimeOffset end)
    {
        var (last, baseline) = Ends(series, start, end);
        if (last is null)
        {
            return null;
        }
        if (baseline is null)
        {
            return 0;
        }
        return last.Value >= baseline.Value ? last.Value - baseline.Value : last.Value;
    }

    /// <summary>The last sample in [start, end) and the sample the increase is measured from: the last one before
    /// start, else the first one in the window (null when that is the last one too and nothing came before).</summary>
    private static (MetricPoint? Last, MetricPoint? Baseline) Ends(IReadOnlyList<MetricPoint> series, DateTimeOffset start, DateTimeOffset end)
    {
        MetricPoint? before = null, first = null, last = null;
        foreach (var p in series)
        {
            if (p.Time < start)
            {
                before = p;
            }
            else if (p.Time < end)
            {
                first ??= p;
                last = p;
            }
        }
        if (last is null)
        {
            return (null, null);
        }
        if (before is null && first!.Start is { } began && began >= start)
        {
            return (last, Zero(first)); // The series began counting inside the window: everything it counted is new.
        }
        return (last, before ?? (ReferenceEquals(first, last) ? null : first));
    }

    private static MetricPoint Zero(MetricPoint p) =>
        p with { Value = 0, Sum = 0, Buckets = p.Buckets is null ? null : new long[p.Buckets.Length] };

    /// <summary>The q-quantile of plain values (nearest rank).</summary>
    public static double RankQuantile(List<double> values, double q)
    {
        values.Sort();
        var rank = (int)Math.Ceiling(q * values.Count) - 1;
        return values[Math.Clamp(rank, 0, values.Count - 1)];
    }

    /// <summary>The q-quantile of bucket counts (not cumulative; the last bucket above the last bound), interpolated
    /// linearly inside the bucket it falls in, as Prometheus' histogram_quantile does; the open last bucket answers its
    /// lower bound.</summary>
    public static double BucketQuantile(double[] bounds, long[] counts, double q)
    {
        var total = counts.Sum();
        var rank = q * total;
        double seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0 || seen + counts[i] < rank)
            {
                seen += counts[i];
                continue;
            }
            if (i >= bounds.Length)
            {
                return bounds.Length > 0 ? bounds[^1] : 0;
            }
            var lower = i == 0 ? Math.Min(0, bounds[0]) : bounds[i - 1];
            return lower + (bounds[i] - lower) * ((rank - seen) / counts[i]);
        }
        return bounds.Length > 0 ? bounds[^1] : 0;
    }

    private static double BucketEdge(double[] bounds, long[] counts, bool lowest)
    {
        var indices = Enumerable.Range(0, counts.Length).Where(i => counts[i] > 0).ToList();
        var i = lowest ? indices[0] : indices[^1];
        if (lowest)
        {
            return i == 0 ? Math.Min(0, bounds.Length > 0 ? bounds[0] : 0) : bounds[i - 1];
        }
        return i < bounds.Length ? bounds[i] : (bounds.Length > 0 ? bounds[^1] : 0);
    }
}
