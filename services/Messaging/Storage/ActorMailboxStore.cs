using AgenticFlow.Messaging.Actors;
using AgenticFlow.Messaging.Domain;
using Dapr.Actors;
using Dapr.Actors.Client;

namespace AgenticFlow.Messaging.Storage;

/// <summary>
/// The <c>actor</c> design: each mailbox is a <see cref="MailboxActor"/> hosted by this service. A message's record is
/// written before the actor queues it, so a queued entry always has its body: a crash between the two leaves only a
/// record nobody was told about (the sender got no answer and sends again). Acked records are marked after the
/// actor removed the entry, so a crash between leaves a record that still says <c>queued</c>.
/// </summary>
public sealed class ActorMailboxStore(IActorProxyFactory actors, MessageStore store) : IMailboxStore
{
    private ActorProxy Mailbox(string agentId) => actors.Create(new ActorId(agentId), MailboxActor.TypeName);

    public async Task<EnqueueOutcome> EnqueueAsync(string agentId, StoredMessage message, string? idempotencyKey, CancellationToken ct)
    {
        await store.SaveMessagesAsync([message], ct);
        var outcome = await Mailbox(agentId).InvokeMethodAsync<EnqueueRequest, EnqueueOutcome>(nameof(IMailboxActor.Enqueue), Request(message, idempotencyKey), ct);
        if (outcome.Status != SendStatus.Accepted)
        {
            // Not queued (a repeated key or a full mailbox): the record written ahead is nobody's.
            await store.DeleteMessageAsync(message.Id, ct);
        }
        return outcome;
    }

    public async Task<CopyOutcome> EnqueueCopyAsync(string agentId, StoredMessage copy, CancellationToken ct)
    {
        // A copy's id is fixed by its source and subscription: a redelivered fan-out must not reset a record that is
        // acked or dead-lettered by now, so the record is written only where none exists.
        await store.TryInsertMessageAsync(copy, ct);
        return await Mailbox(agentId).InvokeMethodAsync<EnqueueRequest, CopyOutcome>(nameof(IMailboxActor.EnqueueCopy), Request(copy, null), ct);
    }

    public Task<LeaseBatch> LeaseAsync(string agentId, int max, TimeSpan leaseFor, CancellationToken ct) =>
        Mailbox(agentId).InvokeMethodAsync<LeaseCall, LeaseBatch>(nameof(IMailboxActor.LeaseNext), new LeaseCall(max, (long)leaseFor.TotalMilliseconds), ct);

    public async Task<IReadOnlyList<AckStatus>> AckAsync(string agentId, IReadOnlyList<AckItem> items, CancellationToken ct)
    {
        var statuses = await Mailbox(agentId).InvokeMethodAsync<List<AckCall>, List<AckStatus>>(nameof(IMailboxActor.Ack),
            items.Select(i => new AckCall(i.MessageId, i.LeaseToken)).ToList(), ct);
        var done = items.Where((_, i) => statuses[i] == AckStatus.Done).Select(i => i.MessageId).ToList();
        var messages = await store.GetMessagesAsync(done, ct);
        await store.SaveMessagesAsync(messages.Select(m => m with { Status = MessageStatus.Acked }).ToList(), ct);
        return statuses;
    }

    public Task<AckStatus> NackAsync(string agentId, string messageId, string leaseToken, TimeSpan delay, CancellationToken ct) =>
        Mailbox(agentId).InvokeMethodAsync<NackCall, AckStatus>(nameof(IMailboxActor.Nack), new NackCall(messageId, leaseToken, (long)delay.TotalMilliseconds), ct);

    public async Task<IReadOnlyList<DeadLetter>> SweepAsync(string agentId, CancellationToken ct) =>
        await Mailbox(agentId).InvokeMethodAsync<List<DeadLetter>>(nameof(IMailboxActor.Sweep), ct);

    public async Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(string agentId, CancellationToken ct) =>
        await Mailbox(agentId).InvokeMethodAsync<List<DeadLetter>>(nameof(IMailboxActor.DeadLetters), ct);

    public Task<MailboxStats> StatsAsync(string agentId, CancellationToken ct) =>
        Mailbox(agentId).InvokeMethodAsync<MailboxStats>(nameof(IMailboxActor.Stats), ct);

    private static EnqueueRequest Request(StoredMessage message, string? idempotencyKey) =>
        new(message.Id, message.Priority, message.EnqueuedAt, message.ExpiresAt, idempotencyKey);
}
