using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _known = new(StringComparer.Ordinal);
    private readonly HashSet<string> _firing = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>What is stored for one reminder. Times are Unix milliseconds.</summary>
    public sealed record Reminder(string ActorType, string ActorId, string Name, JsonElement? Data, string? DueTime, string? Period,
        long PeriodMs, long NextAt, int? Remaining, long? ExpiresAt);

    private sealed record Entry(Reminder Reminder, string ETag, long RetryAt = 0);

    public string Key(string type, string id, string name) => $"{_prefix}{type}||{id}||{name}";

    public async Task LoadAsync(CancellationToken ct)
    {
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
            _known.Clear();
            foreach (var (key, entry) in found)
            {
                _known[key] = entry;
            }
        }
    }

    public async Task CreateAsync(string type, string id, string name, JsonElement body, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var schedule = ActorSchedule.Parse(body, now, requireCallback: false);
        var reminder = new Reminder(type, id, name,
            body.TryGetProperty("data", out var data) ? data.Clone() : null,
            body.TryGetProperty("dueTime", out var due) && due.ValueKind == JsonValueKind.String ? due.GetString() : null,
            body.TryGetProperty("period", out var period) && period.ValueKind == JsonValueKind.String ? period.GetString() : null,
            (long)(schedule.Period?.Every.TotalMilliseconds ?? 0),
            schedule.FirstAt.ToUnixTimeMilliseconds(),
            schedule.Period?.Repetitions,
            schedule.ExpiresAt?.ToUnixTimeMilliseconds());
        var key = Key(type, id, name);
        await store.ExecuteAsync([new StateOperation(StateOperationKind.Upsert, key, JsonSerializer.SerializeToUtf8Bytes(reminder))], ct);
        await RefreshAsync(key, ct);
        _wake.Release();
    }

    /// <summary>The reminder as the SDK reads it back (<c>dueTime</c>, <c>period</c>, <c>data</c>), or null when there is none.</summary>
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
            catch (OperationCanceledException)
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
            if (!await runtime.FireAsync(reminder.ActorType, reminder.ActorId, "remind/" + Uri.EscapeDataString(reminder.Name), payload, ct))
            {
                lock (_gate)
                {
                    if (_known.TryGetValue(key, out var current) && current.ETag == entry.ETag)
                    {
                        _known[key] = current with { RetryAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + (long)RetryAfterFailure.TotalMilliseconds };
                    }
                }
                return;
            }
            Reminder? next = null;
            if (reminder.PeriodMs > 0 && reminder.Remaining is not (not null and <= 1))
            {
                // The next firing keeps to the schedule; after an outage, periods that went by are skipped, not replayed.
                var firedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var nextAt = reminder.NextAt + reminder.PeriodMs;
                if (nextAt <= firedAt)
                {
                    nextAt = firedAt + reminder.PeriodMs - (firedAt - reminder.NextAt) % reminder.PeriodMs;
                }
                if (reminder.ExpiresAt is not { } ends || nextAt < ends)
                {
                    next = reminder with { NextAt = nextAt, Remaining = reminder.Remaining - 1 };
                }
            }
            await MoveOnAsync(key, entry, next, ct);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Reminder {Key} could not be moved on; re-reading it", key);
            await RefreshAsync(key, ct).ContinueWith(_ => { }, TaskScheduler.Default);
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
