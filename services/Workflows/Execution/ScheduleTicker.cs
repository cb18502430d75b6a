using System.Text.Json;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Execution;

/// <summary>
/// Schedule triggers: every few seconds each enabled cron trigger's last started tick is compared with the clock; the
/// latest tick due (one, however many were missed while the service was down) starts a run whose id names the tick,
/// so two replicas or a retry start it once, and then the tick is stored under its ETag. A new trigger counts from now.
/// </summary>
public sealed partial class ScheduleTicker(WorkflowStore store, RunLauncher launcher, Dapr.Client.DaprClient dapr, IOptions<WorkflowsOptions> options, TimeProvider time, ILogger<ScheduleTicker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Calls made before the sidecar listens put the gRPC channel into reconnect back-off, which would also fail the
        // sidecar's first GET /dapr/subscribe: wait for it first.
        await dapr.WaitForSidecarAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.ScheduleCheckSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await TickAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogTickFailed(ex);
            }
        }
    }

    public async Task TickAsync(CancellationToken ct)
    {
        var index = await store.GetTriggersAsync(ct);
        foreach (var entry in index.Entries.Where(e => e.Kind == TriggerKinds.Schedule && e.Cron is not null))
        {
            if (Schedules.Parse(entry.Cron!) is not { } cron)
            {
                continue;
            }
            var now = time.GetUtcNow();
            var (last, etag) = await store.GetTickAsync(entry, ct);
            if (last is null)
            {
                await store.TrySetTickAsync(entry, now, etag, ct);
                continue;
            }
            if (Schedules.LatestDue(cron, last.Value, now) is not { } due)
            {
                continue;
            }
            var runId = $"sched-{entry.DefinitionId}-v{entry.Version}-{entry.Index}-{due.UtcDateTime:yyyyMMddHHmmss}";
            var version = await store.GetVersionAsync(entry.DefinitionId, entry.Version, ct);
            var trigger = version?.Definition.Deserialize<WorkflowDefinition>(WorkflowDefinition.Json)?.Triggers.ElementAtOrDefault(entry.Index);
            var scope = new Dictionary<string, System.Text.Json.Nodes.JsonNode?>
            {
                ["event"] = new System.Text.Json.Nodes.JsonObject { ["id"] = runId, ["tick"] = due.ToString("O"), ["cron"] = entry.Cron },
            };
            var input = trigger?.Input is { } template ? Expressions.Render(template, scope) : null;
            await launcher.StartAsync(entry.DefinitionId, entry.Version, input, runId, TriggerKinds.Schedule, ct);
            await store.TrySetTickAsync(entry, due, etag, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule triggers could not be checked; trying again at the next tick")]
    private partial void LogTickFailed(Exception ex);
}
