using System.Text.Json;
using AgenticFlow.Messaging.Domain;

namespace AgenticFlow.Messaging.Tests;

/// <summary>An <see cref="IMailboxState"/> that behaves like the actor's state manager (values cached for the
/// activation, changed keys written together when a turn ends) and counts what each turn read and wrote.
/// Records are stored as JSON, so what survives a reactivation is what would survive in the state store.</summary>
public sealed class RecordingMailboxState : IMailboxState
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Dictionary<string, object?> _cache = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);

    public Dictionary<string, string> Stored { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys read from the store (not from the cache) since the last <see cref="EndTurn"/>.</summary>
    public int Loads { get; private set; }

    public Task<T?> TryGetAsync<T>(string key) where T : class
    {
        if (_cache.TryGetValue(key, out var cached))
        {
            return Task.FromResult((T?)cached);
        }
        Loads++;
        if (!Stored.TryGetValue(key, out var json))
        {
            return Task.FromResult<T?>(null);
        }
        var value = JsonSerializer.Deserialize<T>(json, Json);
        _cache[key] = value;
        return Task.FromResult(value);
    }

    public Task SetAsync<T>(string key, T value, TimeSpan? ttl = null) where T : class
    {
        _cache[key] = value;
        _changed.Add(key);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string key)
    {
        _cache[key] = null;
        _changed.Add(key);
        return Task.CompletedTask;
    }

    /// <summary>Writes the changed keys, as the state manager does when a method returns; returns (keys written, keys loaded).</summary>
    public (int Written, int Loaded) EndTurn()
    {
        foreach (var key in _changed)
        {
            if (_cache[key] is { } value)
            {
                Stored[key] = JsonSerializer.Serialize(value, value.GetType(), Json);
            }
            else
            {
                Stored.Remove(key);
            }
        }
        var turn = (_changed.Count, Loads);
        _changed.Clear();
        Loads = 0;
        return turn;
    }

    /// <summary>Forgets the cache, as a new activation (after a restart or on another replica) starts empty.</summary>
    public void Reactivate()
    {
        EndTurn();
        _cache.Clear();
    }
}

public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}
