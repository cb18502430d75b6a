using System.Globalization;
using System.Text;

namespace AgenticFlow.Monitoring.Domain;

/// <summary>The newest sample of each series in Prometheus' text exposition format (version 0.0.4): names with
/// dots become underscores, the service is the <c>service</c> label, histograms become cumulative <c>_bucket</c>
/// lines with <c>le</c>, plus <c>_sum</c> and <c>_count</c>.</summary>
public static class PrometheusText
{
    public static string Write(IEnumerable<MetricPoint> points)
    {
        var text = new StringBuilder();
        foreach (var metric in points.GroupBy(p => p.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var name = Sanitize(metric.Key);
            var latest = metric.GroupBy(p => p.SeriesKey).Select(g => g.MaxBy(p => p.Time)!).ToList();
            var kind = latest[0].Kind;
            text.Append("# TYPE ").Append(name).Append(' ').Append(kind switch { MetricKind.Counter => "counter", MetricKind.Histogram => "histogram", _ => "gauge" }).Append('\n');
            foreach (var p in latest)
            {
                var ms = p.Time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
                if (p.Kind == MetricKind.Histogram && p.Bounds is not null && p.Buckets is not null)
                {
                    long cumulative = 0;
                    for (var i = 0; i < p.Buckets.Length; i++)
                    {
                        cumulative += p.Buckets[i];
                        var le = i < p.Bounds.Length ? Number(p.Bounds[i]) : "+Inf";
                        Line(text, name + "_bucket", p, ("le", le), cumulative.ToString(CultureInfo.InvariantCulture), ms);
                    }
                    Line(text, name + "_sum", p, null, Number(p.Sum), ms);
                    Line(text, name + "_count", p, null, Number(p.Value), ms);
                }
                else
                {
                    Line(text, name, p, null, Number(p.Value), ms);
                }
            }
        }
        return text.ToString();
    }

    private static void Line(StringBuilder text, string name, MetricPoint p, (string Key, string Value)? extra, string value, string ms)
    {
        text.Append(name).Append('{').Append("service=\"").Append(Label(p.Service)).Append('"');
        foreach (var (key, v) in p.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            text.Append(',').Append(Sanitize(key)).Append("=\"").Append(Label(v)).Append('"');
        }
        if (extra is { } e)
        {
            text.Append(',').Append(e.Key).Append("=\"").Append(e.Value).Append('"');
        }
        text.Append("} ").Append(value).Append(' ').Append(ms).Append('\n');
    }

    public static string Sanitize(string name)
    {
        var chars = name.Select((c, i) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':' ? c : '_').ToArray();
        var result = new string(chars);
        return result.Length > 0 && char.IsAsciiDigit(result[0]) ? "_" + result : result;
    }

    private static string Label(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Number(double value) => double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);
}
