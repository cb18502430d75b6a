using System.Collections.Concurrent;
using Dapr.Client;

namespace AgenticFlow.Memory.Storage;

/// <summary>
/// A list of ids kept in a store that offers only get, set and delete (Cassandra through Dapr): documents
/// <c>{prefix}:0</c>, <c>{prefix}:1</c>, … of at most <see cref="SegmentSize"/> ids each. Adding rewrites only the
/// last segment, so a write costs the same however long the list grows; reading walks the segments until one is
/// missing (an emptied segment is kept, empty, so the walk never stops early). Without ETags, two writers of one
/// list must not race: each list is changed under a lock in this process (see the README on replicas).
/// </summary>
public sealed class SegmentedLists(DaprClient dapr, string store)
{
    public const int SegmentSize = 256;

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    private sealed record Segment(List<string> Ids);

    private readonly ConcurrentDictionary<string, (int Index, Segment Segment)> _tails = new(StringComparer.Ordinal);

    private SemaphoreSlim LockOf(string prefix) => _locks.GetOrAdd(prefix, _ => new SemaphoreSlim(1, 1));

    public async Task<List<string>> ReadAsync(string prefix, CancellationToken ct)
    {
        var all = new List<string>();
        for (var n = 0; ; n++)
        {
            var segment = await dapr.GetStateAsync<Segment?>(store, Key(prefix, n), cancellationToken: ct);
            if (segment is null)
            {
                return all;
            }
            all.AddRange(segment.Ids);
        }
    }

    /// <summary>Appends <paramref name="id"/> (callers keep ids unique). The last segment is remembered after the
    /// first walk, so an append is one write.</summary>
    public async Task AddAsync(string prefix, string id, CancellationToken ct)
    {
        var gate = LockOf(prefix);
        await gate.WaitAsync(ct);
        try
        {
            if (!_tails.TryGetValue(prefix, out var tail))
            {
                tail = (-1, new Segment([]));
                for (var n = 0; ; n++)
                {
                    var segment = await dapr.GetStateAsync<Segment?>(store, Key(prefix, n), cancellationToken: ct);
                    if (segment is null)
                    {
                        break;
                    }
                    tail = (n, segment);
                }
            }
            if (tail.Index < 0 || tail.Segment.Ids.Count >= SegmentSize)
            {
                tail = (tail.Index + 1, new Segment([]));
            }
            var updated = new Segment([.. tail.Segment.Ids, id]);
            await dapr.SaveStateAsync(store, Key(prefix, tail.Index), updated, cancellationToken: ct);
            _tails[prefix] = (tail.Index, updated);
        }
        catch
        {
            _tails.TryRemove(prefix, out _);
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Removes the ids from whichever segments hold them; only those segments are rewritten.</summary>
    public async Task RemoveAsync(string prefix, IReadOnlySet<string> ids, CancellationToken ct)
    {
        var gate = LockOf(prefix);
        await gate.WaitAsync(ct);
        _tails.TryRemove(prefix, out _);
        try
        {
            for (var n = 0; ; n++)
            {
                var segment = await dapr.GetStateAsync<Segment?>(store, Key(prefix, n), cancellationToken: ct);
                if (segment is null)
                {
                    return;
                }
                if (segment.Ids.RemoveAll(ids.Contains) > 0)
                {
                    await dapr.SaveStateAsync(store, Key(prefix, n), segment, cancellationToken: ct);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Deletes every segment of the list.</summary>
    public async Task DeleteAsync(string prefix, CancellationToken ct)
    {
        var gate = LockOf(prefix);
        await gate.WaitAsync(ct);
        _tails.TryRemove(prefix, out _);
        try
        {
            for (var n = 0; ; n++)
            {
                if (await dapr.GetStateAsync<Segment?>(store, Key(prefix, n), cancellationToken: ct) is null)
                {
                    return;
                }
                await dapr.DeleteStateAsync(store, Key(prefix, n), cancellationToken: ct);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Writes a whole new list at once, segment by segment in bulk (for seeding a store, as the benchmark
    /// does; the list must not exist yet).</summary>
    public async Task WriteNewAsync(string prefix, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var items = ids.Chunk(SegmentSize).Select((chunk, n) => new SaveStateItem<Segment>(Key(prefix, n), new Segment([.. chunk]), null! /* no ETag: Cassandra has none */)).ToList();
        foreach (var batch in items.Chunk(100))
        {
            await dapr.SaveBulkStateAsync(store, batch, cancellationToken: ct);
        }
        _tails.TryRemove(prefix, out _);
    }

    private static string Key(string prefix, int n) => $"{prefix}:{n}";
}
