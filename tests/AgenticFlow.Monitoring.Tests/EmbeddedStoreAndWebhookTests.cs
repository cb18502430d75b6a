using AgenticFlow.Monitoring;
using AgenticFlow.Monitoring.Alerts;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Storage;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AgenticFlow.Monitoring.Tests;

public sealed class EmbeddedStoreAndWebhookTests
{
    private static MetricPoint Point(string series, DateTimeOffset at) =>
        new("m", "s", new Dictionary<string, string> { ["k"] = series }, at, MetricKind.Gauge, 1);

    [Fact]
    public async Task ExpiredSeries_AreSwept_EvenWhenTheyGetNoNewPoints()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(1000));
        var store = new EmbeddedTimeSeriesStore(Options.Create(new MonitoringOptions { RetentionMinutes = 1 }), time);
        await store.WriteAsync([Point("old-1", time.GetUtcNow()), Point("old-2", time.GetUtcNow())], default);
        Assert.Equal(2, store.SeriesCount);
        time.Advance(TimeSpan.FromMinutes(2));
        await store.WriteAsync([Point("new", time.GetUtcNow())], default);
        Assert.Equal(1, store.SeriesCount);
        Assert.Single(await store.ReadAsync("m", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, default));
    }

    [Fact]
    public async Task AWritePastTheSeriesLimit_IsRefusedWhole()
    {
        var time = new FakeTimeProvider();
        var store = new EmbeddedTimeSeriesStore(Options.Create(new MonitoringOptions { MaxSeries = 10 }), time);
        await store.WriteAsync(Enumerable.Range(0, 8).Select(i => Point("s" + i, time.GetUtcNow())).ToList(), default);
        await Assert.ThrowsAsync<SeriesLimitException>(() => store.WriteAsync(Enumerable.Range(0, 5).Select(i => Point("t" + i, time.GetUtcNow())).ToList(), default));
        Assert.Equal(8, store.SeriesCount);
        // Points of series it already holds are still taken.
        await store.WriteAsync([Point("s1", time.GetUtcNow().AddSeconds(1))], default);
        Assert.Equal(9, (await store.ReadAsync("m", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, default)).Count);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8086/query?q=DROP", false)]
    [InlineData("http://localhost/hook", false)]
    [InlineData("http://10.1.2.3/hook", false)]
    [InlineData("http://169.254.169.254/latest/meta-data", false)]
    [InlineData("http://[::1]/hook", false)]
    [InlineData("http://user:pw@hooks.example.com/x", false)]
    [InlineData("ftp://hooks.example.com/x", false)]
    [InlineData("https://hooks.example.com/T000/B000/secret", true)]
    public void Webhooks_MayNotTargetPrivateAddresses(string url, bool allowed) =>
        Assert.Equal(allowed, WebhookTargets.Refusal(url, allowPrivate: false) is null);

    [Fact]
    public void PrivateWebhooks_AreAllowedWhenConfigured_AndUrlsAreShownRedacted()
    {
        Assert.Null(WebhookTargets.Refusal("http://127.0.0.1:9000/hook", allowPrivate: true));
        Assert.Equal("https://hooks.example.com/…", WebhookTargets.Redact("https://hooks.example.com/T000/B000/secret"));
    }
}
