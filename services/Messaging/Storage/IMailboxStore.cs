using AgenticFlow.Messaging.Domain;

namespace AgenticFlow.Messaging.Storage;

/// <summary>
/// Where agents' queues live, one implementation per design (<c>Messaging:Mailboxes</c>): <c>actor</c>, an actor
/// per mailbox writing small records, or <c>document</c>, one document per mailbox under its ETag. Message records
/// (<c>message:{id}</c>) are written by the implementation too, since when they are written is part of the design.
/// </summary>
public interface IMailboxStore
{
    /// <summary>Queues a new message (storing its record), unless <paramref name="idempotencyKey"/> was used lately
    /// or the mailbox is full; nothing is stored then.</summary>
    Task<EnqueueOutcome> EnqueueAsync(string agentId, StoredMessage message, string? idempotencyKey, CancellationToken ct);

    /// <summary>Queues a fan-out copy (storing its record) unless this copy was queued before; a copy meeting a full
    /// mailbox is dead-lettered instead (its record stays, for the dead-letter list).</summary>
    Task<CopyOutcome> EnqueueCopyAsync(string agentId, StoredMessage copy, CancellationToken ct);

    /// <summary>Leases up to <paramref name="max"/> messages, moving expired and over-delivered ones it meets to the dead letters.</summary>
    Task<LeaseBatch> LeaseAsync(string agentId, int max, TimeSpan leaseFor, CancellationToken ct);

    /// <summary>Acknowledges each held lease (its message record becomes <c>acked</c>); one status per item, in order.</summary>
    Task<IReadOnlyList<AckStatus>> AckAsync(string agentId, IReadOnlyList<AckItem> items, CancellationToken ct);

    Task<AckStatus> NackAsync(string agentId, string messageId, string leaseToken, TimeSpan delay, CancellationToken ct);

    /// <summary>Moves what expired or ran out of deliveries to the dead letters; returns what it moved.</summary>
    Task<IReadOnlyList<DeadLetter>> SweepAsync(string agentId, CancellationToken ct);

    Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(string agentId, CancellationToken ct);

    Task<MailboxStats> StatsAsync(string agentId, CancellationToken ct);
}

public sealed record AckItem(string MessageId, string LeaseToken);

public static class MailboxDesigns
{
    public const string Actor = "actor";
    public const string Document = "document";
}
