namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Group commit: calls that arrive while a write is in flight go together in the next write instead of each making
/// its own round trip. The first call of an idle batcher starts its write at once (no waiting for company, so a lone
/// caller pays nothing); under load one write carries up to <c>maxBatch</c> calls. Each caller gets its own result
/// only once the write that carried it returned, or that write's exception: nothing is answered before it is stored.
/// Writes of one batcher never overlap, and items go in the order they were submitted.
/// </summary>
public sealed class GroupCommit<TItem, TResult>
{
    private readonly Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> _write;
    private readonly int _maxBatch;
    private readonly Func<TItem, int> _weight;
    private readonly Action? _idle;
    private readonly Lock _gate = new();
    private List<(TItem Item, TaskCompletionSource<TResult> Done)> _waiting = [];
    private bool _writing;
    private bool _retired;

    /// <param name="write">Stores a batch; returns one result per item, in order. It runs with no caller's
    /// cancellation: one caller giving up must not fail the others' write.</param>
    /// <param name="maxBatch">The most one write carries, in items or, with <paramref name="weight"/>, in weight (an item
    /// heavier than that alone still goes, alone).</param>
    /// <param name="idle">Called (under no lock) when the batcher ran dry, so an owner may forget it.</param>
    /// <param name="weight">What an item counts against <paramref name="maxBatch"/> (an item that is a list of many, say); 1 if not given.</param>
    public GroupCommit(Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> write, int maxBatch, Action? idle = null, Func<TItem, int>? weight = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _write = write;
        _maxBatch = maxBatch;
        _idle = idle;
        _weight = weight ?? (_ => 1);
    }

    /// <summary>False once the batcher ran dry and told its owner: a caller holding it must take a fresh one.</summary>
    public bool TrySubmit(TItem item, out Task<TResult> result)
    {
        var done = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_gate)
        {
            if (_retired)
            {
                result = Task.FromResult<TResult>(default!);
                return false;
            }
            _waiting.Add((item, done));
            start = !_writing;
            _writing = true;
        }
        if (start)
        {
            _ = WriteAllAsync();
        }
        result = done.Task;
        return true;
    }

    /// <summary>Submits one item and waits for the write that carries it.</summary>
    public Task<TResult> SubmitAsync(TItem item) =>
        TrySubmit(item, out var result) ? result : throw new InvalidOperationException("This batcher was retired; take a fresh one from its owner.");

    private async Task WriteAllAsync()
    {
        while (true)
        {
            List<(TItem Item, TaskCompletionSource<TResult> Done)> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _writing = false;
                    // Retired only with an owner to tell: an owner-less batcher stays usable for good.
                    _retired = _idle is not null;
                    break;
                }
                var take = 1;
                for (var total = _weight(_waiting[0].Item); take < _waiting.Count && (total += _weight(_waiting[take].Item)) <= _maxBatch; take++)
                {
                }
                if (take == _waiting.Count)
                {
                    batch = _waiting;
                    _waiting = [];
                }
                else
                {
                    batch = _waiting.GetRange(0, take);
                    _waiting.RemoveRange(0, take);
                }
            }
            try
            {
                var results = await _write(batch.ConvertAll(b => b.Item));
                if (results.Count != batch.Count)
                {
                    throw new InvalidOperationException($"A group write answered {results.Count} results for {batch.Count} items.");
                }
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var (_, done) in batch)
                {
                    done.TrySetException(ex);
                }
            }
        }
        _idle?.Invoke();
    }
}

/// <summary>One <see cref="GroupCommit{TItem, TResult}"/> per key (a mailbox, say): writes of one key go together and
/// in order, different keys' writes run side by side. A key's batcher is dropped when it runs dry, so idle keys
/// cost nothing.</summary>
public sealed class KeyedGroupCommit<TKey, TItem, TResult>(Func<TKey, IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> write, int maxBatch, Func<TItem, int>? weight = null)
    where TKey : notnull
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TKey, GroupCommit<TItem, TResult>> _batchers = new();

    public Task<TResult> SubmitAsync(TKey key, TItem item)
    {
        while (true)
        {
            var batcher = _batchers.GetOrAdd(key, Create);
            if (batcher.TrySubmit(item, out var result))
            {
                return result;
            }
            // It ran dry between our lookup and our submit; it removes itself, or we help.
            _batchers.TryRemove(new KeyValuePair<TKey, GroupCommit<TItem, TResult>>(key, batcher));
        }
    }

    /// <summary>Keys with a batcher right now (for tests and metrics).</summary>
    public int ActiveKeys => _batchers.Count;

    private GroupCommit<TItem, TResult> Create(TKey key)
    {
        GroupCommit<TItem, TResult>? created = null;
        created = new GroupCommit<TItem, TResult>(items => write(key, items), maxBatch,
            idle: () => _batchers.TryRemove(new KeyValuePair<TKey, GroupCommit<TItem, TResult>>(key, created!)), weight);
        return created;
    }
}

/// <summary>Group commit for writes that may overlap (plain upserts of different keys, events): up to
/// <c>stripes</c> writes in flight at once, each carrying what queued for it meanwhile. A call goes to an idle stripe
/// when there is one, so it starts at once; otherwise to the next in turn.</summary>
public sealed class StripedGroupCommit<TItem, TResult>
{
    private readonly GroupCommit<TItem, TResult>[] _stripes;
    private readonly int[] _inFlight;
    private int _next;

    public StripedGroupCommit(Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> write, int maxBatch, int stripes, Func<TItem, int>? weight = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stripes, 1);
        _inFlight = new int[stripes];
        _stripes = Enumerable.Range(0, stripes).Select(_ => new GroupCommit<TItem, TResult>(write, maxBatch, weight: weight)).ToArray();
    }

    public async Task<TResult> SubmitAsync(TItem item)
    {
        var stripe = Pick();
        Interlocked.Increment(ref _inFlight[stripe]);
        try
        {
            return await _stripes[stripe].SubmitAsync(item);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight[stripe]);
        }
    }

    private int Pick()
    {
        for (var i = 0; i < _stripes.Length; i++)
        {
            if (Volatile.Read(ref _inFlight[i]) == 0)
            {
                return i;
            }
        }
        return (int)((uint)Interlocked.Increment(ref _next) % (uint)_stripes.Length);
    }
}
