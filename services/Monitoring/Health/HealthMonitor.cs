using System.Collections.Concurrent;
using System.Diagnostics;
using AgenticFlow.Monitoring.Storage;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Health;

public sealed record CheckResult(string Name, string Status, string? Sidecar, string Detail, double DurationMs, DateTimeOffset CheckedAt);

public sealed record HealthReport(string Status, DateTimeOffset CheckedAt, IReadOnlyList<CheckResult> Services, IReadOnlyList<CheckResult> Dependencies);

public static class HealthStatuses
{
    public const string Up = "up", Degraded = "degraded", Down = "down", Unknown = "unknown";
}

/// <summary>
/// Checks, each <see cref="MonitoringOptions.HealthIntervalSeconds"/>, every app's <c>/readyz</c> through Dapr
/// invocation (which passes its sidecar; the app's answer includes its own sidecar's readiness), apps without an app
/// channel by when their telemetry last arrived, and the dependencies: this service's sidecar, the state store (a
/// read), the pub/sub (a probe event) and the time-series store. Each check has a timeout, so a hung dependency shows
/// as down within one interval plus that timeout.
/// </summary>
public sealed class HealthMonitor(DaprClient dapr, AgenticFlow.Monitoring.Domain.AppInvoker apps, ITimeSeriesStore timeSeries, IOptions<MonitoringOptions> options, TimeProvider time) : BackgroundService
{
    public const string ProbeTopic = "monitoring.health-probe";

    private readonly ConcurrentDictionary<string, DateTimeOffset> _telemetrySeen = new(StringComparer.Ordinal);
    private volatile HealthReport? _latest;

    public HealthReport Latest => _latest ?? new HealthReport(HealthStatuses.Unknown, time.GetUtcNow(), [], []);

    /// <summary>Called by the intake: <paramref name="service"/> just sent telemetry.</summary>
    public void TelemetryFrom(string service)
    {
        if (service.Length > 0)
        {
            _telemetrySeen[service] = time.GetUtcNow();
        }
    }

    public IReadOnlyDictionary<string, DateTimeOffset> TelemetrySeen => _telemetrySeen;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.HealthIntervalSeconds), time);
        do
        {
            _latest = await CheckAllAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task<HealthReport> CheckAllAsync(CancellationToken ct)
    {
        var o = options.Value;
        var services = o.Apps.Select(app => o.TelemetryOnlyApps.Contains(app) ? Task.FromResult(ByTelemetry(app)) : CheckAppAsync(app, ct)).ToList();
        var dependencies = new[]
        {
            TimedAsync("sidecar:monitoring", async c => await dapr.CheckHealthAsync(c) ? "answers" : throw new InvalidOperationException("not healthy"), ct),
            TimedAsync("state:" + o.StateStore, async c => { await dapr.GetStateAsync<string?>(o.StateStore, "monitoring-health-probe", cancellationToken: c); return "read"; }, ct),
            TimedAsync("pubsub:" + o.PubSub, async c => { await dapr.PublishEventAsync(o.PubSub, ProbeTopic, new { at = time.GetUtcNow() }, c); return "published"; }, ct),
            TimedAsync("timeseries:" + timeSeries.Kind, async c => { await timeSeries.PingAsync(c); return "answers"; }, ct),
        };
        var serviceResults = await Task.WhenAll(services);
        var dependencyResults = await Task.WhenAll(dependencies);
        var all = serviceResults.Concat(dependencyResults).ToList();
        var status = all.All(r => r.Status == HealthStatuses.Up) ? HealthStatuses.Up : HealthStatuses.Degraded;
        return new HealthReport(status, time.GetUtcNow(), serviceResults, dependencyResults);
    }

    private CheckResult ByTelemetry(string app)
    {
        var now = time.GetUtcNow();
        if (!_telemetrySeen.TryGetValue(app, out var seen))
        {
            return new CheckResult(app, HealthStatuses.Unknown, null, "no telemetry received yet", 0, now);
        }
        var age = now - seen;
        var fresh = age <= TimeSpan.FromSeconds(options.Value.TelemetryStaleSeconds);
        return new CheckResult(app, fresh ? HealthStatuses.Up : HealthStatuses.Down, fresh ? HealthStatuses.Up : HealthStatuses.Unknown,
            $"telemetry received {age.TotalSeconds:0.0} s ago", 0, now);
    }

    private async Task<CheckResult> CheckAppAsync(string app, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.HealthTimeoutSeconds));
        try
        {
            using var response = await apps.Http.GetAsync($"http://{app}/readyz", timeout.Token);
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            var code = (int)response.StatusCode;
            var (status, sidecar) = code switch
            {
                200 => (HealthStatuses.Up, HealthStatuses.Up),
                // The app answered but is not ready: its own sidecar (or a component behind it) is not.
                503 when body.Contains("Unhealthy", StringComparison.Ordinal) => (HealthStatuses.Degraded, HealthStatuses.Degraded),
                _ => (HealthStatuses.Down, HealthStatuses.Unknown),
            };
            return new CheckResult(app, status, sidecar, $"readyz answered {code}", watch.Elapsed.TotalMilliseconds, time.GetUtcNow());
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return new CheckResult(app, HealthStatuses.Down, HealthStatuses.Unknown, "unreachable: " + ex.GetType().Name, watch.Elapsed.TotalMilliseconds, time.GetUtcNow());
        }
    }

    private async Task<CheckResult> TimedAsync(string name, Func<CancellationToken, Task<string>> check, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.HealthTimeoutSeconds));
        try
        {
            var detail = await check(timeout.Token);
            return new CheckResult(name, HealthStatuses.Up, null, detail, watch.Elapsed.TotalMilliseconds, time.GetUtcNow());
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            return new CheckResult(name, HealthStatuses.Down, null, ex.GetType().Name + ": " + ex.Message, watch.Elapsed.TotalMilliseconds, time.GetUtcNow());
        }
    }
}
