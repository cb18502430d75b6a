using AgenticFlow.Messaging.Domain;

namespace AgenticFlow.Messaging.Tests;

/// <summary>The actor design's mailbox logic over a state manager that caches and writes changed keys per turn.</summary>
public sealed class PagedMailboxTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly RecordingMailboxState _state = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    private PagedMailbox Mailbox(int maxDeliveries = 5, int maxDeadLetters = 1000, int maxDepth = 10_000) =>
        new(_state, new MailboxLimits(maxDepth, maxDeliveries, maxDeadLetters, TimeSpan.FromHours(1)), _clock);

    private EnqueueRequest Request(string id, Priority priority = Priority.Normal, TimeSpan? ttl = null, string? key = null) =>
        new(id, priority, _clock.Now, ttl is { } t ? _clock.Now + t : null, key);

    private async Task<List<Lease>> LeaseAsync(PagedMailbox mailbox, int max, TimeSpan? leaseFor = null)
    {
        var batch = await mailbox.LeaseNextAsync(max, leaseFor ?? Lease);
        _state.EndTurn();
        return [.. batch.Leases];
    }

    [Fact]
    public async Task Leases_HighestPriorityFirst_AndFifoWithin_AcrossPageBoundaries_AndReactivations()
    {
        var mailbox = Mailbox();
        var expected = new Dictionary<Priority, List<string>>();
        // 3 pages of normal, 2 of high, a few low and critical, interleaved.
        for (var i = 0; i < 200; i++)
        {
            var priority = i % 10 == 0 ? Priority.Low : i % 3 == 0 ? Priority.High : i == 77 ? Priority.Critical : Priority.Normal;
            await mailbox.EnqueueAsync(Request($"m{i}", priority));
            _state.EndTurn();
            (expected.TryGetValue(priority, out var list) ? list : expected[priority] = []).Add($"m{i}");
        }

        var received = new List<string>();
        for (var round = 0; received.Count < 200; round++)
        {
            if (round % 5 == 0)
            {
                _state.Reactivate();
                mailbox = Mailbox();
            }
            var leases = await LeaseAsync(mailbox, 7);
            Assert.NotEmpty(leases);
            foreach (var lease in leases)
            {
                received.Add(lease.Entry.MessageId);
                Assert.Equal(AckStatus.Done, await mailbox.AckAsync(lease.Entry.MessageId, lease.Token));
                _state.EndTurn();
            }
        }

        Assert.Equal(new[] { Priority.Critical, Priority.High, Priority.Normal, Priority.Low }.SelectMany(p => expected[p]), received);
        Assert.Equal(0, (await mailbox.StatsAsync()).Depth);
        // Every emptied page below the pages new entries go to is gone from the store.
        Assert.True(_state.Stored.Keys.Count(k => k.StartsWith("page:", StringComparison.Ordinal)) <= PagedMailbox.Priorities);
    }

    [Fact]
    public async Task LeasedEntries_AreNotLeasedAgain_UntilTheLeaseEnds_ThenAnOldTokenNoLongerAcks()
    {
        var mailbox = Mailbox();
        await mailbox.EnqueueAsync(Request("a"));
        await mailbox.EnqueueAsync(Request("b"));

        var first = await LeaseAsync(mailbox, 1);
        Assert.Equal("a", Assert.Single(first).Entry.MessageId);
        Assert.Equal("b", Assert.Single(await LeaseAsync(mailbox, 5)).Entry.MessageId);
        Assert.Empty(await LeaseAsync(mailbox, 5));
        Assert.Equal(2, (await mailbox.StatsAsync()).Leased);

        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        var again = await LeaseAsync(mailbox, 1);
        Assert.Equal("a", again[0].Entry.MessageId);
        Assert.Equal(2, again[0].Entry.Deliveries);
        Assert.Equal(AckStatus.LeaseNotHeld, await mailbox.AckAsync("a", first[0].Token));
        Assert.Equal(AckStatus.LeaseNotHeld, await mailbox.AckAsync("a", "not-a-token"));
        Assert.Equal(AckStatus.Done, await mailbox.AckAsync("a", again[0].Token));
        Assert.Equal(AckStatus.NotFound, await mailbox.AckAsync("a", again[0].Token));
        Assert.Equal(1, (await mailbox.StatsAsync()).Depth);
    }

    [Fact]
    public async Task Nack_GivesTheEntryBackInItsPlace_AtOnceOrAfterTheDelay()
    {
        var mailbox = Mailbox();
        await mailbox.EnqueueAsync(Request("a"));
        await mailbox.EnqueueAsync(Request("b"));
        var leases = await LeaseAsync(mailbox, 2);

        Assert.Equal(AckStatus.Done, await mailbox.NackAsync("a", leases[0].Token, TimeSpan.Zero));
        Assert.Equal(AckStatus.Done, await mailbox.NackAsync("b", leases[1].Token, TimeSpan.FromSeconds(10)));
        Assert.Equal(AckStatus.LeaseNotHeld, await mailbox.NackAsync("a", leases[0].Token, TimeSpan.Zero));
        _state.EndTurn();

        Assert.Equal(["a"], (await LeaseAsync(mailbox, 5)).Select(l => l.Entry.MessageId));
        _clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(["b"], (await LeaseAsync(mailbox, 5)).Select(l => l.Entry.MessageId));
    }

    [Fact]
    public async Task Sweep_MovesExpiredEntries_OfAQueueNobodyReads_AndLeavesTheRest()
    {
        var mailbox = Mailbox();
        for (var i = 0; i < 150; i++)
        {
            await mailbox.EnqueueAsync(Request($"m{i}", ttl: i % 2 == 0 ? TimeSpan.FromSeconds(5) : null));
        }
        await mailbox.EnqueueAsync(Request("late", ttl: TimeSpan.FromMinutes(5)));
        _state.EndTurn();

        Assert.Empty(await mailbox.SweepAsync());
        _clock.Advance(TimeSpan.FromSeconds(6));
        _state.Reactivate();
        mailbox = Mailbox();
        var moved = await mailbox.SweepAsync();
        _state.EndTurn();

        Assert.Equal(75, moved.Count);
        Assert.All(moved, d => Assert.Equal("expired", d.Reason));
        Assert.Equal(76, (await mailbox.StatsAsync()).Depth);
        Assert.Equal(75, (await mailbox.DeadLettersAsync()).Count);
        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal("late", Assert.Single(await mailbox.SweepAsync()).MessageId);
    }

    [Fact]
    public async Task ExpiredWhileLeased_IsDeadLetteredOnlyAfterTheLeaseLapses()
    {
        var mailbox = Mailbox();
        await mailbox.EnqueueAsync(Request("a", ttl: TimeSpan.FromSeconds(5)));
        var lease = Assert.Single(await LeaseAsync(mailbox, 1));

        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(await mailbox.SweepAsync());
        Assert.Equal(AckStatus.Done, await mailbox.AckAsync("a", lease.Token));

        await mailbox.EnqueueAsync(Request("b", ttl: TimeSpan.FromSeconds(5)));
        Assert.Single(await LeaseAsync(mailbox, 1));
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        Assert.Equal("b", Assert.Single(await mailbox.SweepAsync()).MessageId);
    }

    [Fact]
    public async Task AfterMaxDeliveries_TheSweepMovesIt_ThoughNobodyReceivesAgain()
    {
        var mailbox = Mailbox(maxDeliveries: 2);
        await mailbox.EnqueueAsync(Request("poison"));
        await mailbox.EnqueueAsync(Request("given-back"));
        Assert.Equal(2, (await LeaseAsync(mailbox, 2)).Count);
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        var second = await LeaseAsync(mailbox, 2);
        Assert.Equal(AckStatus.Done, await mailbox.NackAsync("given-back", second[1].Token, TimeSpan.FromSeconds(3)));
        _state.EndTurn();

        Assert.Empty(await mailbox.SweepAsync());
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        _state.Reactivate();
        mailbox = Mailbox(maxDeliveries: 2);
        var moved = await mailbox.SweepAsync();

        Assert.Equal(["given-back", "poison"], moved.Select(d => d.MessageId).Order());
        Assert.All(moved, d => Assert.Equal(("max-deliveries", 2), (d.Reason, d.Deliveries)));
        Assert.Equal(new MailboxStats(0, 0, 2), await mailbox.StatsAsync());
    }

    [Fact]
    public async Task DeadLetters_KeepTheNewest_AndOlderPagesLeaveTheStore()
    {
        var mailbox = Mailbox(maxDeadLetters: 100);
        for (var i = 0; i < 300; i++)
        {
            await mailbox.EnqueueAsync(Request($"m{i}", ttl: TimeSpan.FromSeconds(1)));
        }
        _state.EndTurn();
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(300, (await mailbox.SweepAsync()).Count);
        _state.Reactivate();
        mailbox = Mailbox(maxDeadLetters: 100);

        var letters = await mailbox.DeadLettersAsync();
        Assert.Equal(Enumerable.Range(200, 100).Select(i => $"m{i}"), letters.Select(l => l.MessageId));
        Assert.Equal(100, (await mailbox.StatsAsync()).DeadLetters);
        // 100 letters span at most three pages of 64.
        Assert.InRange(_state.Stored.Keys.Count(k => k.StartsWith("dead:", StringComparison.Ordinal)), 2, 3);
    }

    [Fact]
    public async Task IdempotencyKeys_AndFanOutCopies_AreQueuedOnce()
    {
        var mailbox = Mailbox();
        var first = await mailbox.EnqueueAsync(Request("m1", key: "k"));
        var again = await mailbox.EnqueueAsync(Request("m2", key: "k"));
        Assert.Equal((SendStatus.Accepted, "m1"), (first.Status, first.MessageId));
        Assert.Equal((SendStatus.Duplicate, "m1"), (again.Status, again.MessageId));

        Assert.True((await mailbox.EnqueueCopyAsync(Request("copy-1"))).Queued);
        var leases = await LeaseAsync(mailbox, 5);
        foreach (var lease in leases)
        {
            await mailbox.AckAsync(lease.Entry.MessageId, lease.Token);
        }
        _state.Reactivate();
        mailbox = Mailbox();
        Assert.Equal(CopyOutcome.AlreadyThere, await mailbox.EnqueueCopyAsync(Request("copy-1")));
        Assert.Equal(0, (await mailbox.StatsAsync()).Depth);

        _clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(SendStatus.Accepted, (await mailbox.EnqueueAsync(Request("m3", key: "k"))).Status);
    }

    [Fact]
    public async Task AFullMailbox_RefusesAndStoresNothing()
    {
        var mailbox = Mailbox(maxDepth: 3);
        for (var i = 0; i < 3; i++)
        {
            await mailbox.EnqueueAsync(Request($"m{i}"));
        }
        _state.EndTurn();

        Assert.Equal(SendStatus.MailboxFull, (await mailbox.EnqueueAsync(Request("m3", key: "k"))).Status);
        Assert.Equal((0, 0), _state.EndTurn() with { Loaded = 0 });
    }

    [Fact]
    public async Task AFanOutCopy_MeetingAFullMailbox_IsDeadLetteredOnce_NotQueued()
    {
        var mailbox = Mailbox(maxDepth: 2);
        await mailbox.EnqueueAsync(Request("m0"));
        await mailbox.EnqueueAsync(Request("m1"));

        var refused = await mailbox.EnqueueCopyAsync(Request("copy-1"));
        var again = await mailbox.EnqueueCopyAsync(Request("copy-1"));

        Assert.False(refused.Queued);
        Assert.Equal(("copy-1", PagedMailbox.MailboxFullReason), (refused.Refused?.MessageId, refused.Refused?.Reason));
        Assert.Equal(CopyOutcome.AlreadyThere, again);
        var stats = await mailbox.StatsAsync();
        Assert.Equal((2, 1), (stats.Depth, stats.DeadLetters));
        Assert.Equal(["copy-1"], (await mailbox.DeadLettersAsync()).Select(d => d.MessageId));
    }

    [Fact]
    public async Task InADeepQueue_EveryOperationTouchesABoundedNumberOfKeys()
    {
        var mailbox = Mailbox();
        for (var i = 0; i < 5_000; i++)
        {
            await mailbox.EnqueueAsync(Request($"m{i}", (Priority)(i % 4), key: $"k{i}"));
            _state.EndTurn();
        }
        _state.Reactivate();
        mailbox = Mailbox();

        // A fresh activation over a deep queue: each operation loads and writes a handful of records.
        var turns = new List<(string Operation, int Written, int Loaded)>();
        async Task Turn(string operation, Func<Task> run)
        {
            await run();
            var (written, loaded) = _state.EndTurn();
            turns.Add((operation, written, loaded));
        }
        List<Lease> leases = [];
        await Turn("enqueue", () => mailbox.EnqueueAsync(Request("new", Priority.Low, key: "new-key")));
        await Turn("lease 10", async () => leases = [.. (await mailbox.LeaseNextAsync(10, Lease)).Leases]);
        await Turn("ack", () => mailbox.AckAsync(leases[0].Entry.MessageId, leases[0].Token));
        await Turn("nack", () => mailbox.NackAsync(leases[1].Entry.MessageId, leases[1].Token, TimeSpan.FromSeconds(5)));
        await Turn("sweep", () => mailbox.SweepAsync());
        await Turn("stats", () => mailbox.StatsAsync());
        await Turn("copy", () => mailbox.EnqueueCopyAsync(Request("copy", Priority.High)));

        Assert.All(turns, t => Assert.True(t.Written <= 4 && t.Loaded <= 4, $"{t.Operation} wrote {t.Written} and loaded {t.Loaded} keys"));
        Assert.Equal(0, turns.Single(t => t.Operation == "sweep").Written);
        Assert.Equal(0, turns.Single(t => t.Operation == "stats").Written);
        Assert.Equal(5_001, (await mailbox.StatsAsync()).Depth); // 5,000 + one sent + one copy - one acked
    }
}
