using System.Text;
using System.Text.Json;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Intake;
using AgenticFlow.Monitoring.Storage;

namespace AgenticFlow.Monitoring.Tests;

public sealed class TelemetryReadingTests
{
    [Fact]
    public void ZipkinSpans_BecomeATree_WithOffsetsFromTheTraceStart()
    {
        var json = JsonDocument.Parse("""
            [
              {"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203331","name":"get /api","kind":"SERVER","timestamp":1700000000000000,"duration":20000,"localEndpoint":{"serviceName":"gateway"}},
              {"traceId":"0af7651916cd43dd8448eb211c80319c","id":"00f067aa0ba902b7","parentId":"b7ad6b7169203331","name":"post /state","kind":"CLIENT","timestamp":1700000000005000,"duration":3000,"localEndpoint":{"serviceName":"messaging"},"tags":{"error":"boom"}}
            ]
            """).RootElement;
        var spans = ZipkinReader.Read(json);
        var view = TraceTree.Build(spans[0].TraceId, spans);
        var root = Assert.Single(view.Roots);
        Assert.Equal("gateway", root.Service);
        var child = Assert.Single(root.Children);
        Assert.Equal(5, child.OffsetMs, 6);
        Assert.Equal(3, child.DurationMs, 6);
        Assert.True(child.Error);
        Assert.Equal(20, view.DurationMs, 6);
        Assert.Equal(["gateway", "messaging"], view.Services);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("""[{"traceId":"xyz","id":"b7ad6b7169203331","name":"n"}]""")]
    [InlineData("""[{"traceId":"0af7651916cd43dd8448eb211c80319c","id":"short","name":"n"}]""")]
    [InlineData("""[{"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203331","parentId":"b7ad6b7169203331","name":"n"}]""")]
    public void ZipkinBodies_ThatAreNotSpans_AreRefused(string body) =>
        Assert.Throws<FormatException>(() => ZipkinReader.Read(JsonDocument.Parse(body).RootElement));

    [Fact]
    public void SpansThatParentEachOther_StillMakeATree_AndASearchResult()
    {
        SpanRecord Span(string id, string parent) => new("0af7651916cd43dd8448eb211c80319c", id, parent, "n", "s", "SERVER", DateTimeOffset.UnixEpoch.AddMilliseconds(id[0]), 1, false, new Dictionary<string, string>());
        List<SpanRecord> cycle = [Span("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"), Span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa")];
        Assert.Single(TraceTree.Build(cycle[0].TraceId, cycle).Roots);
        var store = new TraceStore(Microsoft.Extensions.Options.Options.Create(new AgenticFlow.Monitoring.MonitoringOptions()), new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch));
        store.Add(cycle);
        Assert.Single(store.Search(null, null, null, null, null, 10));
    }

    [Fact]
    public void OtlpBodies_ThatAreNotProtobuf_AreRefused() =>
        Assert.Throws<Google.Protobuf.InvalidProtocolBufferException>(() => OtlpReader.ReadTraces([0x0a, 0xff, 0xff, 0xff]));

    [Fact]
    public void InfluxLines_EscapeNamesTagsAndStrings()
    {
        var line = new StringBuilder();
        InfluxTimeSeriesStore.AppendLine(line, new MetricPoint("http server,dur", "my svc", new Dictionary<string, string> { ["route"] = "/a=b" },
            DateTimeOffset.FromUnixTimeMilliseconds(1234), MetricKind.Histogram, 3, 0.5, [0.1, 1], [1, 2, 0]));
        Assert.Equal("http\\ server\\,dur,route=/a\\=b,service=my\\ svc value=3,sum=0.5,kind=\"Histogram\",bounds=\"0.1;1\",buckets=\"1;2;0\" 1234\n", line.ToString());
    }

    [Fact]
    public void PrometheusText_WritesCumulativeBuckets()
    {
        var text = PrometheusText.Write([new MetricPoint("http.server.request.duration", "agents", new Dictionary<string, string>(),
            DateTimeOffset.FromUnixTimeMilliseconds(1000), MetricKind.Histogram, 3, 0.5, [0.1, 1], [1, 2, 0])]);
        Assert.Contains("# TYPE http_server_request_duration histogram", text);
        Assert.Contains("http_server_request_duration_bucket{service=\"agents\",le=\"1\"} 3 1000", text);
        Assert.Contains("http_server_request_duration_bucket{service=\"agents\",le=\"+Inf\"} 3 1000", text);
        Assert.Contains("http_server_request_duration_count{service=\"agents\"} 3 1000", text);
    }
}
