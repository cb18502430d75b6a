using AgenticFlow.Messaging.Domain;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Storage;

/// <summary>
/// The <c>document</c> design: each mailbox is one <see cref="Mailbox"/> document, changed only by a state transaction
/// under its ETag that also writes the message records and idempotency keys. Every operation reads and rewrites the
/// whole document, so its cost grows with the queue's depth, and operations on one mailbox race and are redone.
/// </summary>
public sealed class DocumentMailboxStore(MessageStore store, IOptions<MessagingOptions> options, TimeProvider time) : IMailboxStore
{
    private MessagingOptions Options => options.Value;

    public async Task<EnqueueOutcome> EnqueueAsync(string agentId, StoredMessage message, string? idempotencyKey, CancellationToken ct)
    {
        if (idempotencyKey is not null && await store.GetIdempotentAsync(idempotencyKey, ct) is { } earlier)
        {
            return Duplicate(earlier, 0);
        }
        return await store.ChangeMailboxAsync(agentId, mailbox =>
        {
            if (mailbox.Depth >= Options.MaxQueueDepth)
            {
                return new MailboxChange<EnqueueOutcome>(new EnqueueOutcome(SendStatus.MailboxFull, message.Id, message.Priority, mailbox.Depth), []);
            }
            mailbox.Enqueue(message);
            var writes = new List<StateTransactionRequest> { store.Write(message) };
            if (idempotencyKey is not null)
            {
                writes.Add(store.Remember(idempotencyKey, message));
            }
            var depth = mailbox.Depth;
            return new MailboxChange<EnqueueOutcome>(new EnqueueOutcome(SendStatus.Accepted, message.Id, message.Priority, depth), writes,
                idempotencyKey is null ? null : async token => await store.GetIdempotentAsync(idempotencyKey, token) is { } first ? Duplicate(first, depth) : null);
        }, ct);
    }

    public async Task<CopyOutcome> EnqueueCopyAsync(string agentId, StoredMessage copy, CancellationToken ct) =>
        await store.ChangeMailboxAsync<CopyOutcome>(agentId, mailbox =>
        {
            if (mailbox.Contains(copy.Id))
            {
                return null;
            }
            if (mailbox.Depth >= Options.MaxQueueDepth)
            {
                var letter = mailbox.Refuse(copy, PagedMailbox.MailboxFullReason, time.GetUtcNow(), Options.MaxDeadLetters);
                return new MailboxChange<CopyOutcome>(new CopyOutcome(false, letter), [store.Write(copy)]);
            }
            mailbox.Enqueue(copy, remember: true);
            return new MailboxChange<CopyOutcome>(new CopyOutcome(true, null), [store.Write(copy)]);
        }, ct) ?? CopyOutcome.AlreadyThere;

    public async Task<LeaseBatch> LeaseAsync(string agentId, int max, TimeSpan leaseFor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var depth = 0;
        var changed = await store.ChangeMailboxAsync<LeaseBatch?>(agentId, mailbox =>
        {
            var dead = mailbox.Sweep(now, Options.MaxDeliveries, Options.MaxDeadLetters);
            var granted = mailbox.LeaseNext(max, leaseFor, now);
            depth = mailbox.Depth;
            return granted.Count == 0 && dead.Count == 0 ? null : new MailboxChange<LeaseBatch?>(new LeaseBatch(granted, dead, mailbox.Depth), []);
        }, ct);
        return changed ?? new LeaseBatch([], [], depth);
    }

    public async Task<IReadOnlyList<AckStatus>> AckAsync(string agentId, IReadOnlyList<AckItem> items, CancellationToken ct)
    {
        var messages = (await store.GetMessagesAsync(items.Select(i => i.MessageId).Distinct().ToList(), ct)).ToDictionary(m => m.Id);
        var now = time.GetUtcNow();
        var statuses = new List<AckStatus>(items.Count);
        await store.ChangeMailboxAsync<bool>(agentId, mailbox =>
        {
            statuses.Clear();
            var writes = new List<StateTransactionRequest>();
            var removed = false;
            foreach (var item in items)
            {
                var check = mailbox.Find(item.MessageId, item.LeaseToken, now, out var entry);
                statuses.Add(check switch { LeaseCheck.Held => AckStatus.Done, LeaseCheck.NotHeld => AckStatus.LeaseNotHeld, _ => AckStatus.NotFound });
                if (check == LeaseCheck.Held)
                {
                    mailbox.Remove(entry!);
                    removed = true;
                    if (messages.TryGetValue(item.MessageId, out var message))
                    {
                        writes.Add(store.Write(message with { Status = MessageStatus.Acked }));
                    }
                }
            }
            // Nothing held: nothing written.
            return removed ? new MailboxChange<bool>(true, writes) : null;
        }, ct);
        return statuses;
    }

    public async Task<AckStatus> NackAsync(string agentId, string messageId, string leaseToken, TimeSpan delay, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var status = AckStatus.NotFound;
        await store.ChangeMailboxAsync<bool>(agentId, mailbox =>
        {
            var check = mailbox.Find(messageId, leaseToken, now, out var entry);
            status = check switch { LeaseCheck.Held => AckStatus.Done, LeaseCheck.NotHeld => AckStatus.LeaseNotHeld, _ => AckStatus.NotFound };
            if (check != LeaseCheck.Held)
            {
                return null;
            }
            mailbox.Release(entry!, delay, now);
            return new MailboxChange<bool>(true, []);
        }, ct);
        return status;
    }

    public async Task<IReadOnlyList<DeadLetter>> SweepAsync(string agentId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return await store.ChangeMailboxAsync<List<DeadLetter>?>(agentId, mailbox =>
        {
            var moved = mailbox.Sweep(now, Options.MaxDeliveries, Options.MaxDeadLetters);
            return moved.Count == 0 ? null : new MailboxChange<List<DeadLetter>?>(moved, []);
        }, ct) ?? [];
    }

    public async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(string agentId, CancellationToken ct) =>
        (await store.GetMailboxAsync(agentId, ct))?.DeadLetters ?? [];

    public async Task<MailboxStats> StatsAsync(string agentId, CancellationToken ct)
    {
        var mailbox = await store.GetMailboxAsync(agentId, ct) ?? new Mailbox();
        var now = time.GetUtcNow();
        return new MailboxStats(mailbox.Depth, mailbox.Entries.Count(e => e.LeaseUntil > now && e.LeaseToken is not null), mailbox.DeadLetters.Count);
    }

    private static EnqueueOutcome Duplicate(IdempotentResult earlier, int depth) =>
        new(SendStatus.Duplicate, earlier.MessageId, Priorities.TryParse(earlier.Priority, out var p) ? p : Priority.Normal, depth);
}
