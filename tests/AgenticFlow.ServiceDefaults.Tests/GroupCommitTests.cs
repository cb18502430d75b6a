namespace AgenticFlow.ServiceDefaults.Tests;

/// <summary>Group commit: calls arriving while a write is in flight share the next write; nobody is answered before
/// the write that carried them returned.</summary>
public sealed class GroupCommitTests
{
    /// <summary>A write that records its batches and finishes only when the test releases it.</summary>
    private sealed class GatedWrite
    {
        public List<List<int>> Batches { get; } = [];
        public TaskCompletionSource Release { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Exception? Fail { get; set; }

        public async Task<IReadOnlyList<string>> WriteAsync(IReadOnlyList<int> items)
        {
            // The gate is taken before the batch shows: the test opens it only once it has seen the batch, so this
            // write always waits on the gate the test will open next.
            var gate = Release;
            lock (Batches)
            {
                Batches.Add([.. items]);
            }
            await gate.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return Fail is { } error ? throw error : items.Select(i => $"stored {i}").ToList();
        }

        public void Open()
        {
            var gate = Release;
            Release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.SetResult();
        }

        public int Count
        {
            get
            {
                lock (Batches)
                {
                    return Batches.Count;
                }
            }
        }
    }

    [Fact]
    public async Task ALoneCall_IsWrittenAtOnce_AndCallsArrivingMeanwhile_GoTogetherInTheNextWrite_InOrder()
    {
        var write = new GatedWrite();
        var commit = new GroupCommit<int, string>(write.WriteAsync, maxBatch: 100);

        var first = commit.SubmitAsync(1);
        Assert.Equal([[1]], write.Batches);
        var waiting = Enumerable.Range(2, 5).Select(commit.SubmitAsync).ToList();
        Assert.Single(write.Batches);
        Assert.False(first.IsCompleted);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        write.Open();
        Assert.Equal("stored 1", await first);
        await Eventually(() => write.Count == 2);
        Assert.Equal([2, 3, 4, 5, 6], write.Batches[1]);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        write.Open();
        Assert.Equal(["stored 2", "stored 3", "stored 4", "stored 5", "stored 6"], await Task.WhenAll(waiting));
    }

    [Fact]
    public async Task AWrite_CarriesAtMostMaxBatch_ByWeight_AndAHeavierItemStillGoesAlone()
    {
        var write = new GatedWrite();
        var commit = new GroupCommit<int, string>(write.WriteAsync, maxBatch: 10, weight: i => i);

        var all = new[] { 1, 4, 5, 2, 30, 3 }.Select(commit.SubmitAsync).ToList();
        for (var i = 0; i < 5; i++)
        {
            await Eventually(() => write.Count == i + 1);
            write.Open();
        }
        await Task.WhenAll(all);
        // 1 alone (the batcher was idle); then 4+5 (adding 2 passes 10); 2 alone (30 is too heavy to join); 30 alone, then 3.
        Assert.Equal([[1], [4, 5], [2], [30], [3]], write.Batches);
    }

    [Fact]
    public async Task AFailedWrite_FailsEveryCallItCarried_AndTheNextWriteStillRuns()
    {
        var write = new GatedWrite();
        var commit = new GroupCommit<int, string>(write.WriteAsync, maxBatch: 100);
        var first = commit.SubmitAsync(1);
        var second = commit.SubmitAsync(2);
        var third = commit.SubmitAsync(3);

        write.Fail = new InvalidOperationException("store down");
        write.Open();
        Assert.Equal("store down", (await Assert.ThrowsAsync<InvalidOperationException>(() => first)).Message);
        await Eventually(() => write.Count == 2);
        write.Open();
        await Assert.ThrowsAsync<InvalidOperationException>(() => second);
        await Assert.ThrowsAsync<InvalidOperationException>(() => third);

        write.Fail = null;
        var later = commit.SubmitAsync(4);
        write.Open();
        Assert.Equal("stored 4", await later);
    }

    [Fact]
    public async Task KeyedWrites_OfOneKey_NeverOverlap_OtherKeysRunBeside_AndIdleKeysAreForgotten()
    {
        var inFlight = new Dictionary<string, int>();
        var maxInFlight = new Dictionary<string, int>();
        var keyed = new KeyedGroupCommit<string, int, int>(async (key, items) =>
        {
            lock (inFlight)
            {
                inFlight[key] = inFlight.GetValueOrDefault(key) + 1;
                maxInFlight[key] = Math.Max(maxInFlight.GetValueOrDefault(key), inFlight[key]);
            }
            await Task.Yield();
            await Task.Delay(1);
            lock (inFlight)
            {
                inFlight[key]--;
            }
            return items.Select(i => i * 10).ToList();
        }, maxBatch: 8);

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => keyed.SubmitAsync($"k{i % 4}", i))));

        Assert.Equal(Enumerable.Range(0, 400).Select(i => i * 10), results);
        Assert.All(maxInFlight.Values, m => Assert.Equal(1, m));
        Assert.Equal(4, maxInFlight.Count);
        await Eventually(() => keyed.ActiveKeys == 0);
    }

    [Fact]
    public async Task StripedWrites_OverlapUpToTheStripeCount_AndEveryCallGetsItsOwnResult()
    {
        var inFlight = 0;
        var maxInFlight = 0;
        var writes = 0;
        var striped = new StripedGroupCommit<int, int>(async items =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            Interlocked.Increment(ref writes);
            await Task.Delay(5);
            Interlocked.Decrement(ref inFlight);
            return items.Select(i => -i).ToList();
        }, maxBatch: 10, stripes: 3);

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => striped.SubmitAsync(i))));

        Assert.Equal(Enumerable.Range(0, 300).Select(i => -i), results);
        Assert.InRange(maxInFlight, 2, 3);
        Assert.True(writes < 300, $"{writes} writes for 300 calls: nothing was grouped");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(5);
        }
    }
}
