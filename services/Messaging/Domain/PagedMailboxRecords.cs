namespace AgenticFlow.Messaging.Domain;

/// <summary>The few keyed records a <see cref="PagedMailbox"/> reads and writes. In the service it is the mailbox
/// actor's state manager: values stay cached in the activation, and only the keys set or removed during a turn are
/// written, in one transaction, when the turn ends.</summary>
public interface IMailboxState
{
    Task<T?> TryGetAsync<T>(string key) where T : class;

    /// <summary>Marks the record changed; <paramref name="ttl"/> lets the store drop it by itself.</summary>
    Task SetAsync<T>(string key, T value, TimeSpan? ttl = null) where T : class;

    Task RemoveAsync(string key);
}

/// <summary>The limits a mailbox enforces, from <see cref="MessagingOptions"/>.</summary>
public sealed record MailboxLimits(int MaxQueueDepth, int MaxDeliveries, int MaxDeadLetters, TimeSpan DedupeRetention)
{
    public static MailboxLimits From(MessagingOptions options) => new(options.MaxQueueDepth, options.MaxDeliveries, options.MaxDeadLetters,
        TimeSpan.FromSeconds(options.IdempotencyRetentionSeconds));
}

/// <summary>A mailbox's fixed-size bookkeeping: per priority (indexed by the enum's value) the next sequence number,
/// the first page that may still hold entries and the number of entries; the window of dead letters kept; and the
/// earliest time a queued message may expire, so a sweep looks at pages only when something can have expired.</summary>
public sealed class MailboxMeta
{
    public long[] Next { get; set; } = new long[PagedMailbox.Priorities];
    public long[] Head { get; set; } = new long[PagedMailbox.Priorities];
    public int[] Count { get; set; } = new int[PagedMailbox.Priorities];
    public DateTimeOffset? NextExpiry { get; set; }

    /// <summary>Dead letters are numbered; those from <see cref="DeadFirst"/> up to <see cref="DeadNext"/> are kept.</summary>
    public long DeadNext { get; set; }
    public long DeadFirst { get; set; }

    public int Depth => Count.Sum();
}

/// <summary>Entries the sweeper must look at once <see cref="Watch.Until"/> has passed: leases (which may lapse
/// after the last allowed delivery or after the message expired) and given-back entries out of deliveries. Its size
/// follows the messages in flight, not the depth of the queue.</summary>
public sealed class LeaseBook
{
    public Dictionary<string, Watch> Items { get; set; } = new(StringComparer.Ordinal);
}

public sealed record Watch(DateTimeOffset Until, bool Leased);

/// <summary>Dead letters numbered from <c>page × PageSize</c>, in the order they were moved.</summary>
public sealed class DeadLetterPage
{
    public List<DeadLetter> Letters { get; set; } = [];
}

/// <summary>What an idempotency key or a fan-out copy's id remembers in a mailbox, until <see cref="Until"/>.</summary>
public sealed record Remembered(string MessageId, Priority Priority, DateTimeOffset Until);

public sealed record EnqueueOutcome(SendStatus Status, string MessageId, Priority Priority, int Depth);

/// <summary>What became of a fan-out copy: queued, already there (<c>Queued</c> false, no dead letter), or refused
/// by a full mailbox and dead-lettered.</summary>
public sealed record CopyOutcome(bool Queued, DeadLetter? Refused)
{
    public static readonly CopyOutcome AlreadyThere = new(false, null);
}

public sealed record LeaseBatch(IReadOnlyList<Lease> Leases, IReadOnlyList<DeadLetter> DeadLettered, int Depth);

public sealed record MailboxStats(int Depth, int Leased, int DeadLetters);

/// <summary>What is queued: the entry without its body, and the sender's idempotency key if any.</summary>
public sealed record EnqueueRequest(string MessageId, Priority Priority, DateTimeOffset EnqueuedAt, DateTimeOffset? ExpiresAt, string? IdempotencyKey);
