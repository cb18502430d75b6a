namespace AgenticFlow.Messaging.Domain;

/// <summary>One queued message in an agent's mailbox: its place in line and its lease, without the body.</summary>
public sealed record MailboxEntry
{
    public required string MessageId { get; init; }
    public required Priority Priority { get; init; }
    public required long Sequence { get; init; }
    public required DateTimeOffset EnqueuedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset? LeaseUntil { get; init; }
    public string? LeaseToken { get; init; }
    public int Deliveries { get; init; }
}

public sealed record DeadLetter(string MessageId, string Reason, DateTimeOffset At, int Deliveries);

public sealed record Lease(MailboxEntry Entry, string Token, DateTimeOffset Until);

/// <summary>
/// An agent's queue: entries ordered by priority (highest first) and then by arrival, each leased to one
/// consumer at a time. Pure logic; the store persists it with an ETag so replicas never lease one entry twice.
/// </summary>
public sealed class Mailbox
{
    public const int RecentCapacity = 1024;

    public List<MailboxEntry> Entries { get; init; } = [];
    public List<DeadLetter> DeadLetters { get; init; } = [];
    public long NextSequence { get; set; }

    /// <summary>Fan-out copies accepted lately, so a redelivered fan-out does not queue the same copy twice
    /// even after the first copy was acknowledged. Direct sends are kept unique by their idempotency keys instead.</summary>
    public List<string> Recent { get; init; } = [];

    public bool Contains(string messageId) => Recent.Contains(messageId) || Entries.Any(e => e.MessageId == messageId);

    public void Enqueue(StoredMessage message, bool remember = false)
    {
        Entries.Add(new MailboxEntry
        {
            MessageId = message.Id,
            Priority = message.Priority,
            Sequence = NextSequence++,
            EnqueuedAt = message.EnqueuedAt,
            ExpiresAt = message.ExpiresAt,
        });
        if (remember)
        {
            Remember(message.Id);
        }
    }

    /// <summary>Refuses a fan-out copy (the mailbox is full): it goes to the dead letters, remembered like a queued copy
    /// so a redelivered fan-out does not refuse it twice.</summary>
    public DeadLetter Refuse(StoredMessage copy, string reason, DateTimeOffset now, int keepDeadLetters)
    {
        Remember(copy.Id);
        var letter = new DeadLetter(copy.Id, reason, now, 0);
        DeadLetters.Add(letter);
        TrimDeadLetters(keepDeadLetters);
        return letter;
    }

    private void Remember(string messageId)
    {
        Recent.Add(messageId);
        if (Recent.Count > RecentCapacity)
        {
            Recent.RemoveRange(0, Recent.Count - RecentCapacity);
        }
    }

    private void TrimDeadLetters(int keep)
    {
        if (DeadLetters.Count > keep)
        {
            DeadLetters.RemoveRange(0, DeadLetters.Count - keep);
        }
    }

    /// <summary>Moves expired entries, and entries whose lease ran out after the last allowed delivery, to the dead
    /// letters, which keep the newest <paramref name="keepDeadLetters"/> (the message records stay, marked dead-lettered).</summary>
    public List<DeadLetter> Sweep(DateTimeOffset now, int maxDeliveries, int keepDeadLetters = int.MaxValue)
    {
        var moved = new List<DeadLetter>();
        foreach (var entry in Entries.ToList())
        {
            var leaseOver = entry.LeaseUntil is null || entry.LeaseUntil <= now;
            string? reason = entry.ExpiresAt <= now && leaseOver ? "expired"
                : leaseOver && entry.Deliveries >= maxDeliveries ? "max-deliveries"
                : null;
            if (reason is not null)
            {
                Entries.Remove(entry);
                var letter = new DeadLetter(entry.MessageId, reason, now, entry.Deliveries);
                DeadLetters.Add(letter);
                moved.Add(letter);
            }
        }
        TrimDeadLetters(keepDeadLetters);
        return moved;
    }

    /// <summary>Leases up to <paramref name="max"/> available entries: highest priority first, oldest first within it.</summary>
    public List<Lease> LeaseNext(int max, TimeSpan leaseFor, DateTimeOffset now)
    {
        var available = Entries
            .Where(e => e.LeaseUntil is null || e.LeaseUntil <= now)
            .OrderByDescending(e => e.Priority)
            .ThenBy(e => e.Sequence)
            .Take(max)
            .ToList();
        var leases = new List<Lease>();
        foreach (var entry in available)
        {
            var token = Guid.NewGuid().ToString("N");
            var leased = entry with { LeaseUntil = now + leaseFor, LeaseToken = token, Deliveries = entry.Deliveries + 1 };
            Entries[Entries.IndexOf(entry)] = leased;
            leases.Add(new Lease(leased, token, now + leaseFor));
        }
        return leases;
    }

    public LeaseCheck Find(string messageId, string leaseToken, DateTimeOffset now, out MailboxEntry? entry)
    {
        entry = Entries.FirstOrDefault(e => e.MessageId == messageId);
        if (entry is null)
        {
            return LeaseCheck.NotFound;
        }
        return entry.LeaseToken == leaseToken && entry.LeaseUntil > now ? LeaseCheck.Held : LeaseCheck.NotHeld;
    }

    public void Remove(MailboxEntry entry) => Entries.Remove(entry);

    /// <summary>Gives a leased entry back: available again after <paramref name="delay"/>.</summary>
    public void Release(MailboxEntry entry, TimeSpan delay, DateTimeOffset now) =>
        Entries[Entries.IndexOf(entry)] = entry with { LeaseUntil = delay > TimeSpan.Zero ? now + delay : null, LeaseToken = null };

    public int Depth => Entries.Count;
}

public enum LeaseCheck { Held, NotHeld, NotFound }
