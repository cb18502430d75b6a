using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>A transition still to be told: recorded in the event log, published, sent to the rule's topic and webhook.
/// It stays in the rules document (the outbox) until every part is done or given up, so a crash loses none.</summary>
public sealed record Notice(AlertEvent Event, AlertNotify Notify, bool Recorded = false, bool Published = false, bool TopicDone = false, bool WebhookDone = false,
    int Attempts = 0, DateTimeOffset NextAttempt = default)
{
    public bool Done => Recorded && Published && TopicDone && WebhookDone;
}

/// <summary>
/// Rules, their transitions still to be told (the outbox) and the latest events, in the Dapr state store: one document
/// of rules and outbox, changed under its ETag, so a rule's new state and the notice of it are stored together; and one
/// document of the newest <see cref="MaxEvents"/> events. Every change is made on the stored rule (a silence, a
/// deletion and the evaluator's state change do not overwrite each other). Rules are also held in memory for the
/// evaluator; this service is their only writer (one replica, see k8s/base/apps/monitoring.yaml).
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

    /// <summary>Changes the stored rule <paramref name="id"/> (null when there is none) to what <paramref name="change"/>
    /// answers (null removes it); answers the rule as stored before.</summary>
    public Task<AlertRule?> ChangeRuleAsync(string id, Func<AlertRule?, AlertRule?> change, CancellationToken ct) =>
        ChangeAsync(set =>
        {
            var at = set.Rules.FindIndex(r => r.Id == id);
            var before = at >= 0 ? set.Rules[at] : null;
            var after = change(before);
            if (ReferenceEquals(before, after))
            {
                return (false, before);
            }
            if (at >= 0)
            {
                set.Rules.RemoveAt(at);
            }
            if (after is not null)
            {
                set.Rules.Insert(at >= 0 ? at : set.Rules.Count, after);
            }
            return (true, before);
        }, ct);

    /// <summary>Moves the rule <paramref name="seen"/> (if it is still the stored one) to its new state and, in the same
    /// write, queues the notice of the transition; false when the rule was deleted or replaced meanwhile.</summary>
    public Task<bool> TransitionAsync(AlertRule seen, string state, DateTimeOffset? since, Notice? notice, CancellationToken ct) =>
        ChangeAsync(set =>
        {
            var at = set.Rules.FindIndex(r => r.Id == seen.Id && r.CreatedAt == seen.CreatedAt);
            if (at < 0)
            {
                return (false, false);
            }
            set.Rules[at] = set.Rules[at] with { State = state, StateSince = since };
            if (notice is not null)
            {
                set.Outbox.Add(notice);
            }
            return (true, true);
        }, ct);

    public async Task<IReadOnlyList<Notice>> OutboxAsync(CancellationToken ct) =>
        (await dapr.GetStateAsync<RuleSet?>(Store, RulesKey, cancellationToken: ct))?.Outbox ?? [];

    /// <summary>Stores how far a notice got; a notice that is done leaves the outbox.</summary>
    public Task NoticeProgressAsync(Notice notice, CancellationToken ct) =>
        ChangeAsync(set =>
        {
            var at = set.Outbox.FindIndex(n => n.Event.Id == notice.Event.Id);
            if (at < 0)
            {
                return (false, false);
            }
            if (notice.Done)
            {
                set.Outbox.RemoveAt(at);
            }
            else
            {
                set.Outbox[at] = notice;
            }
            return (true, true);
        }, ct);

    private async Task<T> ChangeAsync<T>(Func<RuleSet, (bool Changed, T Value)> change, CancellationToken ct)
    {
        await ListAsync(ct);
        await _gate.WaitAsync(ct);
        try
        {
            List<AlertRule>? rules = null;
            var value = await dapr.ChangeStateAsync<RuleSet, T>(Store, RulesKey, () => new RuleSet([], []), set =>
            {
                var (changed, result) = change(set);
                rules = set.Rules;
                return (changed, result);
            }, ct);
            if (rules is not null)
            {
                _rules = rules;
            }
            return value;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Appends an event once (by id).</summary>
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

    public sealed record RuleSet(List<AlertRule> Rules, List<Notice> Outbox)
    {
        public List<Notice> Outbox { get; init; } = Outbox ?? [];
    }

    public sealed record EventLog(List<AlertEvent> Events);
}
