using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticFlow.Monitoring.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Storage;

/// <summary>
/// Points in an InfluxDB 1.x server over its HTTP API: line protocol to <c>/write</c>, InfluxQL to <c>/query</c>
/// (the InfluxDB.Client package speaks only the 2.x API). One measurement per metric; the service and the metric's
/// attributes are tags; value, sum, kind and a histogram's bounds and bucket counts are fields. The database is made
/// on first use with the configured retention (at least an hour, InfluxDB's minimum). A write answers once InfluxDB
/// acknowledged it.
/// </summary>
public sealed class InfluxTimeSeriesStore(HttpClient http, IOptions<MonitoringOptions> options) : ITimeSeriesStore
{
    private readonly string _db = options.Value.InfluxDatabase;
    private readonly int _retentionMinutes = Math.Max(60, options.Value.RetentionMinutes);
    private readonly SemaphoreSlim _created = new(1, 1);
    private volatile bool _ready;

    public string Kind => "influxdb";

    public async Task WriteAsync(IReadOnlyList<MetricPoint> points, CancellationToken ct)
    {
        if (points.Count == 0)
        {
            return;
        }
        await EnsureDatabaseAsync(ct);
        var body = new StringBuilder();
        foreach (var point in points)
        {
            AppendLine(body, point);
        }
        using var content = new StringContent(body.ToString(), Encoding.UTF8, "text/plain");
        using var response = await http.PostAsync($"write?db={Uri.EscapeDataString(_db)}&precision=ms", content, ct);
        await EnsureSuccessAsync(response, ct);
    }

    public static void AppendLine(StringBuilder line, MetricPoint point)
    {
        line.Append(Escape(point.Name, measurement: true));
        foreach (var (key, value) in point.Tags.Where(t => t.Key != "service" && t.Value.Length > 0).OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            line.Append(',').Append(Escape(key)).Append('=').Append(Escape(value));
        }
        if (point.Service.Length > 0)
        {
            line.Append(",service=").Append(Escape(point.Service));
        }
        line.Append(" value=").Append(Number(point.Value))
            .Append(",sum=").Append(Number(point.Sum))
            .Append(",kind=").Append(Quote(point.Kind.ToString()));
        if (point.Bounds is not null && point.Buckets is not null)
        {
            line.Append(",bounds=").Append(Quote(string.Join(';', point.Bounds.Select(Number))))
                .Append(",buckets=").Append(Quote(string.Join(';', point.Buckets.Select(b => b.ToString(CultureInfo.InvariantCulture)))));
        }
        if (point.Start is { } began)
        {
            line.Append(",start=").Append(began.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append('i');
        }
        line.Append(' ').Append(point.Time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    public async Task<IReadOnlyList<MetricPoint>> ReadAsync(string name, string? service, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        await EnsureDatabaseAsync(ct);
        var q = $"SELECT * FROM {Identifier(name)} WHERE time >= {from.ToUnixTimeMilliseconds()}ms AND time <= {to.ToUnixTimeMilliseconds()}ms"
            + (service is null ? "" : $" AND \"service\" = {Literal(service)}");
        using var doc = await QueryAsync(q, ct);
        var points = new List<MetricPoint>();
        foreach (var series in Series(doc))
        {
            var columns = series.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
            foreach (var row in series.GetProperty("values").EnumerateArray())
            {
                points.Add(ReadRow(name, columns, row));
            }
        }
        return points;
    }

    private static MetricPoint ReadRow(string name, string[] columns, JsonElement row)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        DateTimeOffset time = default;
        string service = "", kind = nameof(MetricKind.Gauge);
        double value = 0, sum = 0;
        string? bounds = null, buckets = null;
        DateTimeOffset? began = null;
        var i = 0;
        foreach (var cell in row.EnumerateArray())
        {
            var column = columns[i++];
            if (cell.ValueKind == JsonValueKind.Null)
            {
                continue;
            }
            switch (column)
            {
                case "time": time = DateTimeOffset.FromUnixTimeMilliseconds(cell.GetInt64()); break;
                case "value": value = cell.GetDouble(); break;
                case "sum": sum = cell.GetDouble(); break;
                case "kind": kind = cell.GetString()!; break;
                case "bounds": bounds = cell.GetString(); break;
                case "buckets": buckets = cell.GetString(); break;
                case "service": service = cell.GetString()!; break;
                case "start": began = DateTimeOffset.FromUnixTimeMilliseconds(cell.GetInt64()); break;
                default: tags[column] = cell.ValueKind == JsonValueKind.String ? cell.GetString()! : cell.GetRawText(); break;
            }
        }
        return new MetricPoint(name, service, tags, time, Enum.Parse<MetricKind>(kind), value, sum,
            bounds is null ? null : Split(bounds, s => double.Parse(s, CultureInfo.InvariantCulture)),
            buckets is null ? null : Split(buckets, s => long.Parse(s, CultureInfo.InvariantCulture)), began);
    }

    private static T[] Split<T>(string text, Func<string, T> parse) =>
        text.Length == 0 ? [] : text.Split(';').Select(parse).ToArray();

    public async Task<IReadOnlyList<MetricDescriptor>> ListAsync(CancellationToken ct)
    {
        await EnsureDatabaseAsync(ct);
        using var doc = await QueryAsync("SHOW MEASUREMENTS", ct);
        var names = Series(doc).SelectMany(s => s.GetProperty("values").EnumerateArray()).Select(v => v[0].GetString()!).ToList();
        var list = new List<MetricDescriptor>();
        foreach (var name in names)
        {
            using var services = await QueryAsync($"SHOW TAG VALUES FROM {Identifier(name)} WITH KEY = \"service\"", ct);
            using var last = await QueryAsync($"SELECT LAST(\"kind\") FROM {Identifier(name)}", ct);
            var kind = Series(last).SelectMany(s => s.GetProperty("values").EnumerateArray()).Select(v => v[1].GetString()).FirstOrDefault() ?? nameof(MetricKind.Gauge);
            list.Add(new MetricDescriptor(name, Enum.Parse<MetricKind>(kind),
                Series(services).SelectMany(s => s.GetProperty("values").EnumerateArray()).Select(v => v[1].GetString()!).Order(StringComparer.Ordinal).ToList()));
        }
        return list;
    }

    public async Task PingAsync(CancellationToken ct)
    {
        using var response = await http.GetAsync("ping", ct);
        await EnsureSuccessAsync(response, ct);
    }

    private async Task EnsureDatabaseAsync(CancellationToken ct)
    {
        if (_ready)
        {
            return;
        }
        await _created.WaitAsync(ct);
        try
        {
            if (!_ready)
            {
                using var doc = await QueryAsync($"CREATE DATABASE {Identifier(_db)} WITH DURATION {_retentionMinutes}m", ct, post: true, withDb: false);
                _ready = true;
            }
        }
        finally
        {
            _created.Release();
        }
    }

    private async Task<JsonDocument> QueryAsync(string q, CancellationToken ct, bool post = false, bool withDb = true)
    {
        var form = new Dictionary<string, string> { ["q"] = q, ["epoch"] = "ms" };
        if (withDb)
        {
            form["db"] = _db;
        }
        using var response = post
            ? await http.PostAsync("query", new FormUrlEncodedContent(form), ct)
            : await http.GetAsync("query?" + string.Join('&', form.Select(kv => kv.Key + "=" + Uri.EscapeDataString(kv.Value))), ct);
        await EnsureSuccessAsync(response, ct);
        var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
        foreach (var result in doc.RootElement.GetProperty("results").EnumerateArray())
        {
            if (result.TryGetProperty("error", out var error))
            {
                doc.Dispose();
                throw new InvalidOperationException("InfluxDB refused a query: " + error.GetString());
            }
        }
        return doc;
    }

    private static IEnumerable<JsonElement> Series(JsonDocument doc) =>
        doc.RootElement.GetProperty("results").EnumerateArray()
            .SelectMany(r => r.TryGetProperty("series", out var s) ? s.EnumerateArray().ToList() : []);

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            throw new HttpRequestException($"InfluxDB answered {(int)response.StatusCode}: {text}", null, response.StatusCode);
        }
    }

    private static string Number(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "0";

    private static string Escape(string text, bool measurement = false)
    {
        var escaped = text.Replace("\\", "\\\\").Replace(",", "\\,").Replace(" ", "\\ ").Replace("\n", "\\n");
        return measurement ? escaped : escaped.Replace("=", "\\=");
    }

    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string Identifier(string name) => "\"" + name.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string Literal(string text) => "'" + text.Replace("\\", "\\\\").Replace("'", "\\'") + "'";
}
