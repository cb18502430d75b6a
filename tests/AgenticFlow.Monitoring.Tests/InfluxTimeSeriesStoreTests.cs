using AgenticFlow.Monitoring;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Storage;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AgenticFlow.Monitoring.Tests;

/// <summary>The InfluxDB store against the real InfluxDB 1.x that tools/test.sh starts (AGENTICFLOW_TEST_INFLUX), held
/// to the same answers as the embedded store.</summary>
public sealed class InfluxTimeSeriesStoreTests
{
    private static string Influx => Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_INFLUX") is { Length: > 0 } url
        ? url
        : throw new InvalidOperationException("AGENTICFLOW_TEST_INFLUX is not set: run the tests with 'bash tools/test.sh', which starts InfluxDB.");

    private static (InfluxTimeSeriesStore Influx, EmbeddedTimeSeriesStore Embedded) Stores(DateTimeOffset now)
    {
        var options = Options.Create(new MonitoringOptions { InfluxDatabase = "t" + Guid.NewGuid().ToString("N")[..12], RetentionMinutes = 120 });
        var http = new HttpClient { BaseAddress = new Uri(Influx.TrimEnd('/') + "/") };
        var time = new FakeTimeProvider(now);
        return (new InfluxTimeSeriesStore(http, options), new EmbeddedTimeSeriesStore(options, time));
    }

    [Fact]
    public async Task PointsWritten_ReadBack_AndAggregate_AsTheEmbeddedStoreDoes()
    {
        var now = DateTimeOffset.UtcNow;
        var (influx, embedded) = Stores(now);
        await influx.PingAsync(default);
        var at = DateTimeOffset.FromUnixTimeMilliseconds(now.AddMinutes(-1).ToUnixTimeMilliseconds());
        var tags = new Dictionary<string, string> { ["http.route"] = "/api/v1/agents", ["odd key"] = "a,b=c" };
        List<MetricPoint> points =
        [
            new("http.server.request.duration", "agents", tags, at, MetricKind.Histogram, 10, 0.5, [0.01, 0.1, 1], [5, 5, 0, 0]),
            new("http.server.request.duration", "agents", tags, at.AddSeconds(5), MetricKind.Histogram, 110, 9.5, [0.01, 0.1, 1], [5, 95, 10, 0]),
            new("http.server.request.duration", "messaging", new Dictionary<string, string>(), at.AddSeconds(5), MetricKind.Histogram, 1, 0.002, [0.01, 0.1, 1], [1, 0, 0, 0]),
            new("queue.depth", "messaging", new Dictionary<string, string>(), at.AddSeconds(2), MetricKind.Gauge, 7),
        ];
        await influx.WriteAsync(points, default);
        await embedded.WriteAsync(points, default);

        var read = await influx.ReadAsync("http.server.request.duration", "agents", at.AddSeconds(-1), at.AddSeconds(10), default);
        Assert.Equal(2, read.Count);
        var last = read.MaxBy(p => p.Time)!;
        Assert.Equal((110.0, 9.5), (last.Value, last.Sum));
        Assert.Equal([5L, 95, 10, 0], last.Buckets!);
        Assert.Equal([0.01, 0.1, 1], last.Bounds!);
        Assert.Equal("a,b=c", last.Tags["odd key"]);
        Assert.Equal(at.AddSeconds(5), last.Time);

        foreach (var agg in new[] { "p50", "p99", "count", "avg" })
        {
            var fromInflux = await new MetricQueries(influx).SeriesAsync("http.server.request.duration", new Dictionary<string, string>(), at.AddSeconds(1), at.AddSeconds(11), TimeSpan.FromSeconds(10), agg, default);
            var fromEmbedded = await new MetricQueries(embedded).SeriesAsync("http.server.request.duration", new Dictionary<string, string>(), at.AddSeconds(1), at.AddSeconds(11), TimeSpan.FromSeconds(10), agg, default);
            Assert.Equal(fromEmbedded.Select(s => (s.Service, string.Join(",", s.Points.Select(p => p.Value)))), fromInflux.Select(s => (s.Service, string.Join(",", s.Points.Select(p => p.Value)))));
            Assert.NotEmpty(fromInflux.Single(s => s.Service == "agents").Points);
        }

        // Grouped by an attribute and filtered by another, both stores answer the same groups and values.
        foreach (var agg in new[] { "p50", "count", "sum" })
        {
            var filter = new Dictionary<string, string> { ["odd key"] = "a,b=c" };
            var fromInflux = await new MetricQueries(influx).GroupedSeriesAsync("http.server.request.duration", filter, ["http.route", "service"], at.AddSeconds(1), at.AddSeconds(11), TimeSpan.FromSeconds(10), agg, default);
            var fromEmbedded = await new MetricQueries(embedded).GroupedSeriesAsync("http.server.request.duration", filter, ["http.route", "service"], at.AddSeconds(1), at.AddSeconds(11), TimeSpan.FromSeconds(10), agg, default);
            var group = Assert.Single(fromInflux);
            Assert.Equal(("/api/v1/agents", "agents"), (group.Labels["http.route"], group.Labels["service"]));
            Assert.Equal(fromEmbedded.Select(g => string.Join(",", g.Labels) + ":" + string.Join(",", g.Points.Select(p => p.Value))),
                fromInflux.Select(g => string.Join(",", g.Labels) + ":" + string.Join(",", g.Points.Select(p => p.Value))));
            Assert.NotEmpty(group.Points);
        }

        var list = await influx.ListAsync(default);
        Assert.Equal(["http.server.request.duration", "queue.depth"], list.Select(d => d.Name).ToList());
        Assert.Equal(["agents", "messaging"], list[0].Services);
        Assert.Equal(MetricKind.Gauge, list[1].Kind);
    }

    [Fact]
    public async Task AServerThatIsNotThere_FailsThePing()
    {
        var options = Options.Create(new MonitoringOptions());
        var store = new InfluxTimeSeriesStore(new HttpClient { BaseAddress = new Uri("http://127.0.0.1:1/") }, options);
        await Assert.ThrowsAsync<HttpRequestException>(() => store.PingAsync(default));
    }
}
