using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// Rules and their transitions in the Dapr state store: one document of rules and one of the latest events (the
/// newest <see cref="MaxEvents"/>), each changed under its ETag. Rules are also held in memory for the evaluator,
/// loaded on first use; this service is their only writer (one replica, see k8s/base/apps/monitoring.yaml).
/// </summary>
public sealed class AlertStore(DaprClient dapr, IOptions<MonitoringOptions> options)
{
    public const string RulesKey = "monitoring-alert-rules";
    public const string EventsKey = "monitoring-alert-events";
    public const int MaxEvents = 1000;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private List<AlertRule>? _rules;

    private string Store => options.Value.StateStore;

    public async Task<IReadOnlyList<AlertRule>> ListAsync(CancellationToken ct)
    {
        if (_rules is { } cached)
        {
            return cached;
        }
        await _gate.WaitAsync(ct);
        try
        {
            _rules ??= (await dapr.GetStateAsync<RuleSet?>(Store, RulesKey, cancellationToken: ct))?.Rules ?? [];
            return _rules;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<AlertRule?> GetAsync(string id, CancellationToken ct) => (await ListAsync(ct)).FirstOrDefault(r => r.Id == id);

    /// <summary>Adds, replaces (same id) or removes (<paramref name="remove"/>) one rule; answers whether it existed.</summary>
    public async Task<bool> SaveAsync(AlertRule rule, CancellationToken ct, bool remove = false)
    {
        await ListAsync(ct);
        await _gate.WaitAsync(ct);
        try
        {
            var (existed, rules) = await dapr.ChangeStateAsync<RuleSet, (bool, List<AlertRule>)>(Store, RulesKey, () => new RuleSet([]), set =>
            {
                var at = set.Rules.FindIndex(r => r.Id == rule.Id);
                if (at >= 0)
                {
                    set.Rules.RemoveAt(at);
                }
                if (!remove)
                {
                    set.Rules.Add(rule);
                }
                return (at >= 0 || !remove, (at >= 0, set.Rules));
            }, ct);
            _rules = rules;
            return existed;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task AppendEventAsync(AlertEvent alertEvent, CancellationToken ct) =>
        dapr.ChangeStateAsync<EventLog, bool>(Store, EventsKey, () => new EventLog([]), log =>
        {
            if (log.Events.Any(e => e.Id == alertEvent.Id))
            {
                return (false, false);
            }
            log.Events.Add(alertEvent);
            if (log.Events.Count > MaxEvents)
            {
                log.Events.RemoveRange(0, log.Events.Count - MaxEvents);
            }
            return (true, true);
        }, ct);

    public async Task<IReadOnlyList<AlertEvent>> EventsAsync(CancellationToken ct) =>
        (await dapr.GetStateAsync<EventLog?>(Store, EventsKey, cancellationToken: ct))?.Events ?? [];

    public sealed record RuleSet(List<AlertRule> Rules);

    public sealed record EventLog(List<AlertEvent> Events);
}
