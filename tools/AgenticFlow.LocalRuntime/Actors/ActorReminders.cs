using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.State;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>
/// Durable reminders of the actor types this sidecar hosts. Each reminder is one item in the actor state store,
/// key <c>{appId}||actors-reminders||{type}||{id}||{name}</c> (per app id, as daprd's reminders sit under the
/// app's key prefix), holding its schedule and the next firing time, so a
/// restarted runtime (or another instance taking the actor over) continues where the last left off.
/// Every instance keeps the reminders of its types in memory (re-read every few seconds) but fires only those of
/// actors placed on it. After a firing the stored item is moved on (or deleted when done) under its ETag, so a
/// reminder the actor changed or removed during its own callback is not brought back.
/// </summary>
public sealed class ActorReminders(ActorRuntime runtime, IStateStore store, string appId, IReadOnlyList<string> types, ILogger logger)
{
    private readonly string _prefix = appId + "||actors-reminders||";
    private static readonly TimeSpan Reload = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries the app refuses (an error answer) before that firing is given up and the schedule moves on.
    /// An app that cannot be reached is retried until it can: nothing is given up while it restarts.</summary>
    public const int MaxRefusals = 3;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _known = new(StringComparer.Ordinal);
    private readonly HashSet<string> _firing = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);

    // Every local change of a key (create, delete, move on, re-read) takes the next number; a reload that began
    // before a key's last change leaves that key as it is, so a slow scan never brings back an older version.
    private readonly Dictionary<string, long> _changedAt = new(StringComparer.Ordinal);
    private long _changes;

    /// <summary>What is stored for one reminder. Times are Unix milliseconds.</summary>
    public sealed record Reminder(string ActorType, string ActorId, string Name, JsonElement? Data, string? DueTime, string? Period,
        long PeriodMs, long NextAt, int? Remaining, long? ExpiresAt);

    private sealed record Entry(Reminder Reminder, string ETag, long RetryAt = 0, int Refusals = 0);

    public string Key(string type, string id, string name) => $"{_prefix}{type}||{id}||{name}";

    public async Task LoadAsync(CancellationToken ct)
    {
        long began;
        lock (_gate)
        {
            began = _changes;
        }
        var found = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var type in types)
        {
            foreach (var (key, item) in await store.ScanAsync(_prefix + type + "||", ct))
            {
                if (TryRead(item, out var reminder))
                {
                    found[key] = new Entry(reminder, item.ETag);
                }
            }
        }
        lock (_gate)
        {
            bool Untouched(string key) => !_firing.Contains(key) && (!_changedAt.TryGetValue(key, out var at) || at <= began);
            foreach (var key in _known.Keys.Where(k => !found.ContainsKey(k) && Untouched(k)).ToList())
            {
                _known.Remove(key);
            }
            foreach (var (key, entry) in found)
            {
                if (!Untouched(key))
                {
                    continue;
                }
                // A reload keeps what this sidecar knows of a version it already holds (retry time, refusals).
                _known[key] = _known.TryGetValue(key, out var held) && held.ETag == entry.ETag ? held : entry;
            }
            foreach (var key in _changedAt.Where(c => c.Value <= began).Select(c => c.Key).ToList())
            {
                _changedAt.Remove(key);
            }
        }
    }

    private void Changed(string key) => _changedAt[key] = ++_changes;

    public async Task CreateAsync(string type, string id, string name, JsonElement body, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var schedule = ActorSchedule.Parse(body, now, requireCallback: false);
        var reminder = new Reminder(type, id, name,
            body.TryGetField("data", out var data) ? data.Clone() : null,
            body.StringField("dueTime"),
            body.StringField("period"),
            (long)(schedule.Period?.Every.TotalMilliseconds ?? 0),
            schedule.FirstAt.ToUnixTimeMilliseconds(),
            schedule.Period?.Repetitions,
            schedule.ExpiresAt?.ToUnixTimeMilliseconds());
        var key = Key(type, id, name);
        await store.ExecuteAsync([new StateOperation(StateOperationKind.Upsert, key, JsonSerializer.SerializeToUtf8Bytes(reminder))], ct);
        await RefreshAsync(key, ct);
        _wake.Release();
    }

    /// <summary>The reminder as the SDKs read it back (<c>dueTime</c>, <c>period</c>, <c>data</c>), or null when there is none.</summary>
    public async Task<JsonObject?> GetAsync(string type, string id, string name, CancellationToken ct)
    {
        var item = await store.GetAsync(Key(type, id, name), ct);
        if (item is null || !TryRead(item, out var reminder))
        {
            return null;
        }
        return Describe(reminder);
    }

    public async Task DeleteAsync(string type, string id, string name, CancellationToken ct)
    {
        var key = Key(type, id, name);
        await store.ExecuteAsync([new StateOperation(StateOperationKind.Delete, key)], ct);
        lock (_gate)
        {
            _known.Remove(key);
            Changed(key);
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var reloadAt = DateTimeOffset.UtcNow + Reload;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (DateTimeOffset.UtcNow >= reloadAt)
                {
                    await LoadAsync(ct);
                    reloadAt = DateTimeOffset.UtcNow + Reload;
                }
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var wait = 1000L;
                List<(string Key, Entry Entry)> due = [];
                lock (_gate)
                {
                    foreach (var (key, entry) in _known)
                    {
                        if (_firing.Contains(key) || !runtime.IsLocal(entry.Reminder.ActorType, entry.Reminder.ActorId))
                        {
                            continue;
                        }
                        var at = Math.Max(entry.Reminder.NextAt, entry.RetryAt);
                        if (at <= now)
                        {
                            _firing.Add(key);
                            due.Add((key, entry));
                        }
                        else
                        {
                            wait = Math.Min(wait, at - now);
                        }
                    }
                }
                foreach (var (key, entry) in due)
                {
                    _ = Task.Run(() => FireAsync(key, entry, ct), CancellationToken.None);
                }
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(wait, 5)), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Reminder scheduling failed; retrying");
                await Task.Delay(RetryAfterFailure, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task FireAsync(string key, Entry entry, CancellationToken ct)
    {
        try
        {
            var reminder = entry.Reminder;
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (reminder.ExpiresAt is { } expired && now >= expired)
            {
                await MoveOnAsync(key, entry, null, ct);
                return;
            }
            var payload = Encoding.UTF8.GetBytes(Describe(reminder).ToJsonString());
            var outcome = await runtime.FireAsync(reminder.ActorType, reminder.ActorId, "remind/" + Uri.EscapeDataString(reminder.Name), payload, checkPlacement: true, ct);
            if (outcome == ActorRuntime.Delivery.Refused && entry.Refusals + 1 >= MaxRefusals)
            {
                logger.LogWarning("Reminder {Name} of actor {Type}/{Id} was refused {Count} times; this firing is given up", reminder.Name, reminder.ActorType, reminder.ActorId, MaxRefusals);
            }
            else if (outcome != ActorRuntime.Delivery.Delivered)
            {
                RetryLater(key, entry, outcome == ActorRuntime.Delivery.Refused);
                return;
            }
            await MoveOnAsync(key, entry, Next(reminder), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Delivered, perhaps, but not moved on (the store failed): try again after a pause, not at once.
            logger.LogWarning(ex, "Reminder {Key} could not be moved on; retrying", key);
            RetryLater(key, entry, refused: false);
        }
        finally
        {
            lock (_gate)
            {
                _firing.Remove(key);
            }
            _wake.Release();
        }
    }

    /// <summary>The reminder after one more firing, or null when that was its last.</summary>
    private static Reminder? Next(Reminder reminder)
    {
        if (reminder.PeriodMs <= 0 || reminder.Remaining is not (null or > 1))
        {
            return null;
        }
        // The next firing keeps to the schedule; after an outage, periods that went by are skipped, not replayed.
        var firedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var nextAt = reminder.NextAt + reminder.PeriodMs;
        if (nextAt <= firedAt)
        {
            nextAt = firedAt + reminder.PeriodMs - (firedAt - reminder.NextAt) % reminder.PeriodMs;
        }
        return reminder.ExpiresAt is { } ends && nextAt >= ends ? null : reminder with { NextAt = nextAt, Remaining = reminder.Remaining - 1 };
    }

    private void RetryLater(string key, Entry entry, bool refused)
    {
        lock (_gate)
        {
            if (_known.TryGetValue(key, out var current) && current.ETag == entry.ETag)
            {
                _known[key] = current with
                {
                    RetryAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + (long)RetryAfterFailure.TotalMilliseconds,
                    Refusals = current.Refusals + (refused ? 1 : 0),
                };
            }
        }
    }

    private async Task MoveOnAsync(string key, Entry entry, Reminder? next, CancellationToken ct)
    {
        try
        {
            var op = next is null
                ? new StateOperation(StateOperationKind.Delete, key, ETag: entry.ETag)
                : new StateOperation(StateOperationKind.Upsert, key, JsonSerializer.SerializeToUtf8Bytes(next), entry.ETag);
            await store.ExecuteAsync([op], ct);
        }
        catch (StateETagException)
        {
            // Changed or removed meanwhile (often by the actor's own callback): the stored version wins.
        }
        await RefreshAsync(key, ct);
    }

    private async Task RefreshAsync(string key, CancellationToken ct)
    {
        var item = await store.GetAsync(key, ct);
        lock (_gate)
        {
            Changed(key);
            if (item is not null && TryRead(item, out var reminder))
            {
                _known[key] = new Entry(reminder, item.ETag);
            }
            else
            {
                _known.Remove(key);
            }
        }
    }

    private static JsonObject Describe(Reminder reminder) => new()
    {
        ["data"] = reminder.Data is { } data ? JsonNode.Parse(data.GetRawText()) : null,
        ["dueTime"] = ActorDurations.ForApp(reminder.DueTime),
        ["period"] = ActorDurations.ForApp(reminder.Period),
    };

    private bool TryRead(StateItem item, out Reminder reminder)
    {
        try
        {
            reminder = JsonSerializer.Deserialize<Reminder>(item.Value) ?? throw new JsonException("null reminder");
            return true;
        }
        catch (JsonException ex)
        {
            logger.LogWarning("A stored reminder cannot be read and is skipped: {Message}", ex.Message);
            reminder = null!;
            return false;
        }
    }
}
