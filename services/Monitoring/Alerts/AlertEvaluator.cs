using AgenticFlow.Monitoring.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// Evaluates every rule each <see cref="MonitoringOptions.AlertIntervalSeconds"/>: the rule's aggregation over its
/// window, through <see cref="AlertStateMachine"/>. A transition is stored (the rule's state and an event) before it
/// is published and notified, so a notification never describes something the store does not hold.
/// </summary>
public sealed partial class AlertEvaluator(
    AlertStore store, MetricQueries metrics, AlertNotifier notifier, IOptions<MonitoringOptions> options, TimeProvider time, ILogger<AlertEvaluator> logger) : BackgroundService
{
    /// <summary>The last value each rule saw, for the API and the dashboard.</summary>
    public IReadOnlyDictionary<string, double?> LastValues => _values;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double?> _values = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.AlertIntervalSeconds), time);
        do
        {
            try
            {
                await EvaluateAllAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogEvaluationFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task EvaluateAllAsync(CancellationToken ct)
    {
        foreach (var rule in await store.ListAsync(ct))
        {
            await EvaluateAsync(rule, ct);
        }
    }

    private async Task EvaluateAsync(AlertRule rule, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var value = await metrics.ValueAsync(rule.Metric, rule.Filter, TimeSpan.FromSeconds(rule.WindowSeconds), rule.Aggregation, now, ct);
        _values[rule.Id] = value;
        var step = AlertStateMachine.Next(rule.State, rule.StateSince, value, rule, now);
        if (step.State == rule.State && step.Since == rule.StateSince)
        {
            return;
        }
        var notice = step.Transition is { } kind
            ? new Notice(new AlertEvent(Guid.NewGuid().ToString("N"), rule.Id, rule.Name, kind, rule.Severity, rule.Metric, value, rule.Threshold,
                rule.Comparator, now, rule.IsSilenced(now)), rule.Notify)
            : null;
        // The new state and the notice of it in one write: a crash after it loses neither; the notifier tells the rest.
        if (await store.TransitionAsync(rule, step.State, step.Since, notice, ct) && notice is not null)
        {
            LogTransition(rule.Name, notice.Event.Kind, value);
            notifier.Wake();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert rule {Rule} is {Transition} (value {Value})")]
    private partial void LogTransition(string rule, string transition, double? value);

    [LoggerMessage(Level = LogLevel.Error, Message = "Evaluating alert rules failed; trying again on the next tick")]
    private partial void LogEvaluationFailed(Exception ex);
}
