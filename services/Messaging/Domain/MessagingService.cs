using AgenticFlow.ServiceDefaults;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using AgenticFlow.Messaging.Storage;
using Dapr.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Domain;

public sealed record SendCommand(Recipient Recipient, Priority Priority, JsonElement Body, int? TtlSeconds, string? CorrelationId, string? IdempotencyKey, string? From, Dictionary<string, string> Attributes);

public enum SendStatus { Accepted, Duplicate, MailboxFull }

public sealed record SendResult(SendStatus Status, string MessageId, string Priority);

public sealed record ReceivedMessage(StoredMessage Message, Lease Lease);

public enum AckStatus { Done, LeaseNotHeld, NotFound }

/// <summary>
/// The message bus: direct sends into an agent's mailbox, topic sends fanned out to subscribers' mailboxes,
/// leased receives, acks and nacks, dead letters. Knows nothing of HTTP.
/// </summary>
public sealed partial class MessagingService(
    MessageStore store,
    IMailboxStore mailboxes,
    DaprClient dapr,
    IOptions<MessagingOptions> options,
    TimeProvider time,
    MessagingMetrics metrics,
    ITeamDirectory teams,
    BatchedEvents<MessageSent> sentEvents,
    ILogger<MessagingService> logger)
{
    public const string FanOutTopic = "messaging.fanout";
    public const string SentTopic = "messaging.message-sent";
    public const string DeadLetteredTopic = "messaging.message-dead-lettered";

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _arrivals = new(StringComparer.Ordinal);

    private MessagingOptions Options => options.Value;

    public async Task<SendResult> SendAsync(SendCommand command, CancellationToken ct)
    {
        // A key names one message from one sender to one recipient: another sender using the same key, or the same
        // sender using it towards another recipient (a service sending each agent its copy of one piece of work),
        // must not suppress this message.
        command = command with { IdempotencyKey = command.IdempotencyKey is { } given ? $"{command.From}\n{command.Recipient.Kind}:{command.Recipient.Id}\n{given}" : null };
        var now = time.GetUtcNow();
        var message = new StoredMessage
        {
            Id = Guid.CreateVersion7(now).ToString("N"),
            RecipientKind = command.Recipient.Kind.ToString().ToLowerInvariant(),
            RecipientId = command.Recipient.Id,
            Priority = command.Priority,
            Body = command.Body,
            From = command.From,
            CorrelationId = command.CorrelationId,
            Attributes = command.Attributes,
            EnqueuedAt = now,
            ExpiresAt = command.TtlSeconds is { } ttl ? now.AddSeconds(ttl) : null,
        };
        return command.Recipient.Kind is RecipientKind.Topic or RecipientKind.Team
            ? await PublishToTopicAsync(message, command.IdempotencyKey, ct)
            : await EnqueueAsync(command.Recipient.Id, message, command.IdempotencyKey, ct);
    }

    private async Task<SendResult> EnqueueAsync(string agentId, StoredMessage message, string? idempotencyKey, CancellationToken ct)
    {
        // Listed before anything is queued, so the sweeper finds every mailbox that holds a message.
        await store.ListMailboxAsync(agentId, ct);
        var outcome = await mailboxes.EnqueueAsync(agentId, message, idempotencyKey, ct);
        if (outcome.Status == SendStatus.Accepted)
        {
            metrics.ObserveDepth(agentId, outcome.Depth);
            metrics.Sent(message.Priority, "agent");
            Signal(agentId);
            // Off the request path: queued here, published in bulk by a background loop (see BatchedEvents).
            await sentEvents.Enqueue(new MessageSent(message.Id, agentId, message.Priority.Name(), message.CorrelationId), ct);
        }
        return new SendResult(outcome.Status, outcome.MessageId, outcome.Priority.Name());
    }

    private async Task<SendResult> PublishToTopicAsync(StoredMessage message, string? idempotencyKey, CancellationToken ct)
    {
        if (idempotencyKey is not null && await store.GetIdempotentAsync(idempotencyKey, ct) is { } earlier)
        {
            return new SendResult(SendStatus.Duplicate, earlier.MessageId, earlier.Priority);
        }
        if (!await store.TryInsertAsync(message, idempotencyKey, ct))
        {
            var first = await store.GetIdempotentAsync(idempotencyKey!, ct);
            return new SendResult(SendStatus.Duplicate, first?.MessageId ?? message.Id, first?.Priority ?? message.Priority.Name());
        }
        // Stored first, then handed to pub/sub: the fan-out is retried until every subscriber has its copy.
        await dapr.PublishEventAsync(Options.PubSub, FanOutTopic, new FanOutRequest(message.Id), ct);
        metrics.Sent(message.Priority, message.RecipientKind);
        return new SendResult(SendStatus.Accepted, message.Id, message.Priority.Name());
    }

    /// <summary>Copies a topic message into the mailbox of every matching subscriber, a team message into every
    /// member's. Safe to run again.</summary>
    public async Task FanOutAsync(string messageId, CancellationToken ct)
    {
        var message = await store.GetMessageAsync(messageId, ct);
        if (message is null)
        {
            LogFanOutMissing(messageId);
            return;
        }
        if (message.RecipientKind == "team")
        {
            // Members as coordination says now; an unreachable coordination throws, so pub/sub retries the fan-out.
            foreach (var agentId in await teams.MembersAsync(message.RecipientId, ct) ?? [])
            {
                await CopyAsync(message, agentId, $"{message.Id}-{agentId}", ct);
            }
            return;
        }
        var subscriptions = (await store.GetSubscriptionsAsync(ct)).Items.Where(s => s.Topic == message.RecipientId && s.Matches(message)).ToList();
        foreach (var subscription in subscriptions)
        {
            await CopyAsync(message, subscription.AgentId, $"{message.Id}-{subscription.Id}", ct);
        }
    }

    /// <summary>Puts a copy of a topic or team message into one agent's mailbox, once (a copy already there is left alone);
    /// a mailbox at its depth limit dead-letters the copy instead of growing past the limit.</summary>
    private async Task CopyAsync(StoredMessage message, string agentId, string copyId, CancellationToken ct)
    {
        await store.ListMailboxAsync(agentId, ct);
        var copy = message with { Id = copyId, RecipientKind = "agent", RecipientId = agentId, SourceMessageId = message.Id };
        var outcome = await mailboxes.EnqueueCopyAsync(agentId, copy, ct);
        if (outcome.Queued)
        {
            Signal(agentId);
        }
        else if (outcome.Refused is { } letter)
        {
            // A full mailbox takes no more copies: the copy shows in its dead letters, with the event, instead.
            await RecordDeadLettersAsync(agentId, [letter], ct);
        }
    }

    /// <summary>How often a waiting receive asks its mailbox again for what this replica was not told about (sends
    /// through another replica, leases that ran out).</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Leases up to <paramref name="max"/> messages; with <paramref name="wait"/>, waits for the first to arrive.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(string agentId, int max, TimeSpan lease, TimeSpan wait, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + wait;
        // A lease here found nothing more to hand out a moment ago (within one poll interval) and nothing was sent to
        // this mailbox through this replica since: a waiting receive starts by waiting instead of asking the mailbox
        // again, which found nothing for one actor turn per receive (an agent that takes each message as it comes
        // receives once per message). What this replica is not told about is seen at the next poll, as before.
        // The hint is read after taking the arrival handle, so a send landing in between wakes this receive at once.
        for (var first = true; ; first = false)
        {
            var arrival = _arrivals.GetOrAdd(agentId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var waitFirst = first && wait > TimeSpan.Zero && LikelyDrained(agentId);
            var received = waitFirst ? [] : await LeaseAsync(agentId, max, lease, ct);
            var remaining = deadline - time.GetUtcNow();
            if (received.Count > 0 || remaining <= TimeSpan.Zero)
            {
                return received;
            }
            // Woken by a send on this replica, or after a short pause for sends that landed on another.
            await Task.WhenAny(arrival.Task, Task.Delay(TimeSpan.FromMilliseconds(Math.Min(PollInterval.TotalMilliseconds, remaining.TotalMilliseconds)), time, ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    private async Task<IReadOnlyList<ReceivedMessage>> LeaseAsync(string agentId, int max, TimeSpan leaseFor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var signalled = SignalCount(agentId);
        var (leases, deadLettered, depth) = await mailboxes.LeaseAsync(agentId, max, leaseFor, ct);
        // Fewer than asked for: the lease went through everything it could hand out.
        if (leases.Count < max)
        {
            _drained[agentId] = new Drained(signalled, time.GetTimestamp());
        }
        else
        {
            _drained.TryRemove(agentId, out _);
        }
        metrics.ObserveDepth(agentId, depth);
        if (deadLettered.Count > 0)
        {
            await RecordDeadLettersAsync(agentId, deadLettered, ct);
        }
        if (leases.Count == 0)
        {
            return [];
        }
        var messages = (await store.GetQueuedMessagesAsync(leases.Select(l => l.Entry.MessageId).ToList(), ct)).ToDictionary(m => m.Id);
        var received = leases.Where(l => messages.ContainsKey(l.Entry.MessageId)).Select(l => new ReceivedMessage(messages[l.Entry.MessageId], l)).ToList();
        foreach (var r in received)
        {
            metrics.Delivered(r.Message.Priority, r.Lease.Entry.Deliveries, now - r.Message.EnqueuedAt);
        }
        return received;
    }

    private sealed record Drained(long SignalCount, long At);

    /// <summary>Per mailbox: signals (sends, nacks) seen by this replica, and the last lease here that emptied it.</summary>
    private readonly ConcurrentDictionary<string, long> _signals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Drained> _drained = new(StringComparer.Ordinal);

    private long SignalCount(string agentId) => _signals.GetValueOrDefault(agentId);

    private bool LikelyDrained(string agentId) =>
        _drained.TryGetValue(agentId, out var drained) && drained.SignalCount == SignalCount(agentId) && time.GetElapsedTime(drained.At) < PollInterval;

    private async Task RecordDeadLettersAsync(string agentId, IReadOnlyList<DeadLetter> letters, CancellationToken ct)
    {
        foreach (var letter in letters)
        {
            metrics.DeadLettered(letter.Reason);
            if (await store.GetMessageAsync(letter.MessageId, ct) is { } message)
            {
                await dapr.ExecuteStateTransactionAsync(Options.StateStore, [store.Write(message with { Status = MessageStatus.DeadLettered, DeadLetterReason = letter.Reason })], cancellationToken: ct);
            }
            await NotifyAsync(DeadLetteredTopic, new { messageId = letter.MessageId, agentId, reason = letter.Reason, deliveries = letter.Deliveries }, ct);
        }
    }

    /// <summary>Moves expired and over-delivered messages of every mailbox to its dead letters, with their events;
    /// run periodically, so a queue nobody reads still shows them (and sends the events) on time.</summary>
    public async Task<int> SweepAllAsync(CancellationToken ct)
    {
        var swept = 0;
        foreach (var agentId in await store.ListedMailboxesAsync(ct))
        {
            var dead = await mailboxes.SweepAsync(agentId, ct);
            if (dead is { Count: > 0 })
            {
                await RecordDeadLettersAsync(agentId, dead, ct);
                swept += dead.Count;
            }
        }
        return swept;
    }

    public async Task<AckStatus> AckAsync(string agentId, string messageId, string leaseToken, CancellationToken ct) =>
        (await AckManyAsync(agentId, [new AckItem(messageId, leaseToken)], ct))[0];

    /// <summary>Acknowledges many leases of one queue at once; one status per item, in order.</summary>
    public async Task<IReadOnlyList<AckStatus>> AckManyAsync(string agentId, IReadOnlyList<AckItem> items, CancellationToken ct)
    {
        var statuses = await mailboxes.AckAsync(agentId, items, ct);
        foreach (var _ in statuses.Where(s => s == AckStatus.Done))
        {
            metrics.Acked();
        }
        return statuses;
    }

    public async Task<AckStatus> NackAsync(string agentId, string messageId, string leaseToken, TimeSpan delay, CancellationToken ct)
    {
        var status = await mailboxes.NackAsync(agentId, messageId, leaseToken, delay, ct);
        if (status == AckStatus.Done)
        {
            metrics.Nacked();
            Signal(agentId);
        }
        return status;
    }

    public async Task<(IReadOnlyList<DeadLetter> Letters, IReadOnlyList<StoredMessage> Messages)> DeadLettersAsync(string agentId, CancellationToken ct)
    {
        var letters = await mailboxes.DeadLettersAsync(agentId, ct);
        var messages = await store.GetMessagesAsync(letters.Select(d => d.MessageId).ToList(), ct);
        return (letters, messages);
    }

    public async Task<(int Depth, int Leased, int DeadLetters)> StatsAsync(string agentId, CancellationToken ct)
    {
        var stats = await mailboxes.StatsAsync(agentId, ct);
        metrics.ObserveDepth(agentId, stats.Depth);
        return (stats.Depth, stats.Leased, stats.DeadLetters);
    }

    public Task<StoredMessage?> GetAsync(string messageId, CancellationToken ct) => store.GetMessageAsync(messageId, ct);

    public Task<TopicSubscription> SubscribeAsync(string agentId, string topic, Dictionary<string, string> filter, CancellationToken ct) =>
        store.ChangeSubscriptionsAsync(set =>
        {
            var existing = set.Items.FirstOrDefault(s => s.AgentId == agentId && s.Topic == topic && s.Filter.Count == filter.Count && !s.Filter.Except(filter).Any());
            if (existing is not null)
            {
                return (false, existing);
            }
            var created = new TopicSubscription(Guid.NewGuid().ToString("N")[..16], agentId, topic, filter, time.GetUtcNow());
            set.Items.Add(created);
            return (true, created);
        }, ct);

    public Task<bool> UnsubscribeAsync(string id, CancellationToken ct) =>
        store.ChangeSubscriptionsAsync(set => set.Items.RemoveAll(s => s.Id == id) > 0 is var removed ? (removed, removed) : (false, false), ct);

    public async Task<IReadOnlyList<TopicSubscription>> ListSubscriptionsAsync(string? topic, string? agentId, CancellationToken ct) =>
        (await store.GetSubscriptionsAsync(ct)).Items
            .Where(s => (topic is null || s.Topic == topic) && (agentId is null || s.AgentId == agentId))
            .OrderBy(s => s.CreatedAt).ToList();

    private void Signal(string agentId)
    {
        _signals.AddOrUpdate(agentId, 1, (_, count) => count + 1);
        if (_arrivals.TryRemove(agentId, out var waiting))
        {
            waiting.TrySetResult();
        }
    }

    private Task NotifyAsync(string topic, object payload, CancellationToken ct) => dapr.TryPublishEventAsync(Options.PubSub, topic, payload, logger, ct);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fan-out for message {MessageId} found no stored message; skipped")]
    private partial void LogFanOutMissing(string messageId);

}

public sealed record FanOutRequest(string MessageId);

/// <summary>The <c>messaging.message-sent</c> event: a message was queued for an agent.</summary>
public sealed record MessageSent(string MessageId, string Recipient, string Priority, string? CorrelationId);


/// <summary>Queue depth and delivery figures, exported through OpenTelemetry (meter AgenticFlow.Messaging).</summary>
public sealed class MessagingMetrics
{
    public const string MeterName = "AgenticFlow.Messaging";

    private readonly Counter<long> _sent;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _acked;
    private readonly Counter<long> _nacked;
    private readonly Counter<long> _deadLettered;
    private readonly Histogram<double> _waited;
    private readonly ConcurrentDictionary<string, int> _depths = new(StringComparer.Ordinal);

    public MessagingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _sent = meter.CreateCounter<long>("agenticflow.messaging.sent", "{message}", "Messages accepted");
        _delivered = meter.CreateCounter<long>("agenticflow.messaging.delivered", "{message}", "Messages handed to a consumer under a lease");
        _acked = meter.CreateCounter<long>("agenticflow.messaging.acked", "{message}", "Messages acknowledged");
        _nacked = meter.CreateCounter<long>("agenticflow.messaging.nacked", "{message}", "Messages given back");
        _deadLettered = meter.CreateCounter<long>("agenticflow.messaging.dead_lettered", "{message}", "Messages moved to a dead-letter queue");
        _waited = meter.CreateHistogram<double>("agenticflow.messaging.queue_wait", "ms", "Time from acceptance to a delivery");
        meter.CreateObservableGauge("agenticflow.messaging.queue_depth",
            () => _depths.Select(d => new Measurement<int>(d.Value, new KeyValuePair<string, object?>("agent", d.Key))),
            "{message}", "Messages queued per agent, as last seen by this replica");
    }

    public void Sent(Priority priority, string route) => _sent.Add(1, new("priority", priority.Name()), new("route", route));

    public void Delivered(Priority priority, int attempt, TimeSpan waited)
    {
        _delivered.Add(1, new KeyValuePair<string, object?>("priority", priority.Name()), new("redelivery", attempt > 1));
        _waited.Record(waited.TotalMilliseconds, new KeyValuePair<string, object?>("priority", priority.Name()));
    }

    public void Acked() => _acked.Add(1);
    public void Nacked() => _nacked.Add(1);
    public void DeadLettered(string reason) => _deadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));
    public void ObserveDepth(string agentId, int depth) => _depths[agentId] = depth;
}
