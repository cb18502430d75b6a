using AgenticFlow.Messaging.Actors;
using AgenticFlow.Messaging.Domain;
using Dapr.Actors;
using Dapr.Actors.Client;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Messaging.Storage;

/// <summary>
/// The <c>actor</c> design: each mailbox is a <see cref="MailboxActor"/> hosted by this service. A message's record is
/// written before the actor queues it, so a queued entry always has its body: a crash between the two leaves only a
/// record nobody was told about (the sender got no answer and sends again). Acked records are marked after the
/// actor removed the entry, so a crash between leaves a record that still says <c>queued</c>.
/// Sends and acks of one mailbox that arrive while a call to its actor is in flight go together in the next call
/// (<see cref="KeyedGroupCommit{TKey, TItem, TResult}"/>), and their records in one transaction: under load a
/// mailbox costs one actor turn per batch rather than per message; a lone send goes at once.
/// </summary>
public sealed partial class ActorMailboxStore : IMailboxStore
{
    /// <summary>The most sends (or acks) one actor call carries.</summary>
    public const int MaxBatch = 100;

    private readonly IActorProxyFactory _actors;
    private readonly MessageStore _store;
    private readonly ILogger<ActorMailboxStore> _logger;
    private readonly KeyedGroupCommit<string, (StoredMessage Message, string? IdempotencyKey), EnqueueOutcome> _enqueues;
    private readonly KeyedGroupCommit<string, IReadOnlyList<AckItem>, IReadOnlyList<AckStatus>> _acks;

    public ActorMailboxStore(IActorProxyFactory actors, MessageStore store, ILogger<ActorMailboxStore> logger)
    {
        _actors = actors;
        _store = store;
        _logger = logger;
        // Bounded in count and in the records' size: the records go in one state transaction, and daprd refuses a
        // request over 4 MB by default.
        _enqueues = new(EnqueueManyAsync, MessageStore.MaxTransactionBytes, weight: item => Math.Max(MessageStore.EstimatedBytes(item.Message), MessageStore.MaxTransactionBytes / MaxBatch));
        _acks = new(AckManyAsync, MaxBatch, weight: items => items.Count);
    }

    private ActorProxy Mailbox(string agentId) => _actors.Create(new ActorId(agentId), MailboxActor.TypeName);

    public Task<EnqueueOutcome> EnqueueAsync(string agentId, StoredMessage message, string? idempotencyKey, CancellationToken ct) =>
        _enqueues.SubmitAsync(agentId, (message, idempotencyKey));

    private async Task<IReadOnlyList<EnqueueOutcome>> EnqueueManyAsync(string agentId, IReadOnlyList<(StoredMessage Message, string? IdempotencyKey)> items)
    {
        // No caller's cancellation here: the batch carries other callers' messages too.
        await _store.SaveMessagesAsync(items.Select(i => i.Message).ToList(), CancellationToken.None);
        // A lone send calls Enqueue, which replicas of the version before EnqueueMany also host: during a rolling
        // update only batches meeting such a replica's actor fail (500, nothing queued; the sender sends again).
        IReadOnlyList<EnqueueOutcome> outcomes = items.Count == 1
            ? [await Mailbox(agentId).InvokeMethodAsync<EnqueueRequest, EnqueueOutcome>(nameof(IMailboxActor.Enqueue), Request(items[0].Message, items[0].IdempotencyKey), CancellationToken.None)]
            : await Mailbox(agentId).InvokeMethodAsync<List<EnqueueRequest>, List<EnqueueOutcome>>(nameof(IMailboxActor.EnqueueMany),
                items.Select(i => Request(i.Message, i.IdempotencyKey)).ToList(), CancellationToken.None);
        // Not queued (a repeated key or a full mailbox): the records written ahead are nobody's. Removing them is
        // tidying: should it fail, the queued messages of the batch are still answered as queued (a crash here leaves
        // the same unowned records, see README).
        var unqueued = items.Where((_, i) => outcomes[i].Status != SendStatus.Accepted).Select(i => i.Message.Id).ToList();
        if (unqueued.Count > 0)
        {
            try
            {
                await _store.DeleteMessagesAsync(unqueued, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogUnqueuedNotDeleted(_logger, ex, unqueued.Count, agentId);
            }
        }
        return outcomes;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} records of messages not queued for {AgentId} (duplicates or a full mailbox) could not be deleted; they stay unowned")]
    private static partial void LogUnqueuedNotDeleted(ILogger logger, Exception ex, int count, string agentId);

    public async Task<CopyOutcome> EnqueueCopyAsync(string agentId, StoredMessage copy, CancellationToken ct)
    {
        // A copy's id is fixed by its source and subscription: a redelivered fan-out must not reset a record that is
        // acked or dead-lettered by now, so the record is written only where none exists.
        await _store.TryInsertMessageAsync(copy, ct);
        return await Mailbox(agentId).InvokeMethodAsync<EnqueueRequest, CopyOutcome>(nameof(IMailboxActor.EnqueueCopy), Request(copy, null), ct);
    }

    public Task<LeaseBatch> LeaseAsync(string agentId, int max, TimeSpan leaseFor, CancellationToken ct) =>
        Mailbox(agentId).InvokeMethodAsync<LeaseCall, LeaseBatch>(nameof(IMailboxActor.LeaseNext), new LeaseCall(max, (long)leaseFor.TotalMilliseconds), ct);

    public Task<IReadOnlyList<AckStatus>> AckAsync(string agentId, IReadOnlyList<AckItem> items, CancellationToken ct) =>
        _acks.SubmitAsync(agentId, items);

    /// <summary>Acks of several calls in one actor turn; each call gets back its own statuses.</summary>
    private async Task<IReadOnlyList<IReadOnlyList<AckStatus>>> AckManyAsync(string agentId, IReadOnlyList<IReadOnlyList<AckItem>> calls)
    {
        var statuses = await AckAllAsync(agentId, calls.SelectMany(c => c).ToList());
        var answers = new List<IReadOnlyList<AckStatus>>(calls.Count);
        var at = 0;
        foreach (var call in calls)
        {
            answers.Add(statuses.GetRange(at, call.Count));
            at += call.Count;
        }
        return answers;
    }

    private async Task<List<AckStatus>> AckAllAsync(string agentId, IReadOnlyList<AckItem> items)
    {
        var statuses = await Mailbox(agentId).InvokeMethodAsync<List<AckCall>, List<AckStatus>>(nameof(IMailboxActor.Ack),
            items.Select(i => new AckCall(i.MessageId, i.LeaseToken)).ToList(), CancellationToken.None);
        var done = items.Where((_, i) => statuses[i] == AckStatus.Done).Select(i => i.MessageId).ToList();
        var messages = await _store.GetQueuedMessagesAsync(done, CancellationToken.None);
        await _store.SaveMessagesAsync(messages.Select(m => m with { Status = MessageStatus.Acked }).ToList(), CancellationToken.None);
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
