using System.Runtime.CompilerServices;
using System.Net.ServerSentEvents;
using AgenticFlow.Monitoring.Alerts;
using AgenticFlow.Monitoring.Health;
using AgenticFlow.Monitoring.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Apis;

public sealed record DashboardSnapshot(
    DateTimeOffset At, HealthReport Health, int FiringAlerts, IReadOnlyList<AlertEvent> RecentAlertEvents, long SpansReceived, long PointsReceived, int TracesKept);

/// <summary><c>/api/v1/health</c> (the platform's health as last checked) and <c>/api/v1/monitoring/stream</c>, the
/// dashboard's live feed: a snapshot as server-sent events every <see cref="MonitoringOptions.StreamIntervalSeconds"/>.</summary>
public static class HealthApi
{
    public static void MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/health", Health).WithTags("Health").WithName("PlatformHealth").RequirePlatformRole();
        // Left out of the OpenAPI document: an endless stream is no operation for generic clients (or the fuzzer) to call.
        app.MapGet("/api/v1/monitoring/stream", Stream).WithTags("Health").WithName("DashboardStream").RequirePlatformRole().ExcludeFromDescription();
    }

    public static async Task<IResult> Health(HealthMonitor monitor, CancellationToken ct)
    {
        var report = monitor.Latest;
        if (report.Services.Count == 0)
        {
            report = await monitor.CheckAllAsync(ct);
        }
        return TypedResults.Ok(report);
    }

    public static IResult Stream(HealthMonitor monitor, AlertStore alerts, IntakeCounters counters, TraceStore traces, IOptions<MonitoringOptions> options, TimeProvider time, CancellationToken ct) =>
        TypedResults.ServerSentEvents(Snapshots(monitor, alerts, counters, traces, TimeSpan.FromSeconds(options.Value.StreamIntervalSeconds), time, ct));

    private static async IAsyncEnumerable<SseItem<DashboardSnapshot>> Snapshots(HealthMonitor monitor, AlertStore alerts, IntakeCounters counters, TraceStore traces,
        TimeSpan interval, TimeProvider time, [EnumeratorCancellation] CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            var rules = await alerts.ListAsync(ct);
            var recent = (await alerts.EventsAsync(ct)).TakeLast(10).Reverse().ToList();
            yield return new SseItem<DashboardSnapshot>(new DashboardSnapshot(time.GetUtcNow(), monitor.Latest, rules.Count(r => r.State == AlertStates.Firing),
                recent, counters.SpansTotal, counters.PointsTotal, traces.TraceCount), "snapshot");
        }
        while (await timer.WaitForNextTickAsync(ct));
    }
}
