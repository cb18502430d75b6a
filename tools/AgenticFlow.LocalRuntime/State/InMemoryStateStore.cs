namespace AgenticFlow.LocalRuntime.State;

/// <summary><c>state.in-memory</c>: a dictionary guarded by one lock; lost when the runtime stops.</summary>
public sealed class InMemoryStateStore(TimeProvider time) : IStateStore
{
    private readonly Dictionary<string, (byte[] Value, long Version, DateTimeOffset? ExpiresAt)> _items = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public Task InitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<StateItem?> GetAsync(string key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(Live(key, time.GetUtcNow()) is { } e ? new StateItem(e.Value, e.Version.ToString(), e.ExpiresAt) : null);
        }
    }

    public Task<IReadOnlyDictionary<string, StateItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var result = new Dictionary<string, StateItem>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var key in keys)
            {
                if (Live(key, now) is { } e)
                {
                    result[key] = new StateItem(e.Value, e.Version.ToString(), e.ExpiresAt);
                }
            }
        }
        return Task.FromResult<IReadOnlyDictionary<string, StateItem>>(result);
    }

    public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            foreach (var op in operations)
            {
                var current = Live(op.Key, now);
                if (op.HasETag && current?.Version != op.ExpectedVersion)
                {
                    throw StateETagException.Mismatch(op.Key);
                }
                if (op.MustNotExist && current is not null)
                {
                    throw StateETagException.Mismatch(op.Key);
                }
            }
            foreach (var op in operations)
            {
                if (op.Kind == StateOperationKind.Delete)
                {
                    _items.Remove(op.Key);
                    continue;
                }
                var current = Live(op.Key, now);
                var version = current is { } c ? c.Version + 1 : Versions.First();
                _items[op.Key] = (op.Value ?? [], version, op.ExpiresAt(now));
            }
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<KeyValuePair<string, StateItem>>> ScanAsync(string prefix, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            IReadOnlyList<KeyValuePair<string, StateItem>> list = _items
                .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && (kv.Value.ExpiresAt is null || kv.Value.ExpiresAt > now))
                .Select(kv => KeyValuePair.Create(kv.Key, new StateItem(kv.Value.Value, kv.Value.Version.ToString(), kv.Value.ExpiresAt)))
                .ToList();
            return Task.FromResult(list);
        }
    }

    private (byte[] Value, long Version, DateTimeOffset? ExpiresAt)? Live(string key, DateTimeOffset now)
    {
        if (!_items.TryGetValue(key, out var e))
        {
            return null;
        }
        if (e.ExpiresAt is { } at && at <= now)
        {
            _items.Remove(key);
            return null;
        }
        return e;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
