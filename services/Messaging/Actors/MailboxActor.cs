using AgenticFlow.Messaging.Domain;
using Dapr.Actors;
using Dapr.Actors.Runtime;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Actors;

/// <summary>One agent's mailbox as an actor (id = agent id). Called without remoting: one JSON argument, one JSON answer.</summary>
public interface IMailboxActor : IActor
{
    /// <summary>Queues one message. Kept beside <see cref="EnqueueMany"/> so replicas of the version before it, which
    /// call only this, keep working during a rolling update; a lone send uses it too.</summary>
    Task<EnqueueOutcome> Enqueue(EnqueueRequest request);

    /// <summary>Queues several messages in one turn, in order; one outcome each.</summary>
    Task<List<EnqueueOutcome>> EnqueueMany(List<EnqueueRequest> requests);

    Task<CopyOutcome> EnqueueCopy(EnqueueRequest request);

    Task<LeaseBatch> LeaseNext(LeaseCall call);

    Task<List<AckStatus>> Ack(List<AckCall> calls);

    Task<AckStatus> Nack(NackCall call);

    Task<List<DeadLetter>> Sweep();

    Task<List<DeadLetter>> DeadLetters();

    Task<MailboxStats> Stats();
}

public sealed record LeaseCall(int Max, long LeaseMilliseconds);

public sealed record AckCall(string MessageId, string LeaseToken);

public sealed record NackCall(string MessageId, string LeaseToken, long DelayMilliseconds);

/// <summary>
/// The actor's turn lock runs one operation of a mailbox at a time, so there are no ETag races; its state manager
/// keeps the records it has read cached for the activation and, when a method returns, writes only the records the
/// method changed, in one transaction, before the caller gets its answer.
/// </summary>
public sealed class MailboxActor(ActorHost host, IOptions<MessagingOptions> options, TimeProvider time) : Actor(host), IMailboxActor
{
    public const string TypeName = "MessagingMailbox";

    private PagedMailbox? _mailbox;

    private PagedMailbox Mailbox => _mailbox ??= new PagedMailbox(new ActorMailboxState(StateManager), MailboxLimits.From(options.Value), time);

    public Task<EnqueueOutcome> Enqueue(EnqueueRequest request) => Mailbox.EnqueueAsync(request);

    public async Task<List<EnqueueOutcome>> EnqueueMany(List<EnqueueRequest> requests)
    {
        var outcomes = new List<EnqueueOutcome>(requests.Count);
        foreach (var request in requests)
        {
            outcomes.Add(await Mailbox.EnqueueAsync(request));
        }
        return outcomes;
    }

    public Task<CopyOutcome> EnqueueCopy(EnqueueRequest request) => Mailbox.EnqueueCopyAsync(request);

    public Task<LeaseBatch> LeaseNext(LeaseCall call) => Mailbox.LeaseNextAsync(call.Max, TimeSpan.FromMilliseconds(call.LeaseMilliseconds));

    public async Task<List<AckStatus>> Ack(List<AckCall> calls)
    {
        var statuses = new List<AckStatus>(calls.Count);
        foreach (var call in calls)
        {
            statuses.Add(await Mailbox.AckAsync(call.MessageId, call.LeaseToken));
        }
        return statuses;
    }

    public Task<AckStatus> Nack(NackCall call) => Mailbox.NackAsync(call.MessageId, call.LeaseToken, TimeSpan.FromMilliseconds(call.DelayMilliseconds));

    public async Task<List<DeadLetter>> Sweep() => [.. await Mailbox.SweepAsync()];

    public async Task<List<DeadLetter>> DeadLetters() => [.. await Mailbox.DeadLettersAsync()];

    public Task<MailboxStats> Stats() => Mailbox.StatsAsync();
}

/// <summary>The paged mailbox's records in the actor's state manager.</summary>
internal sealed class ActorMailboxState(IActorStateManager manager) : IMailboxState
{
    public async Task<T?> TryGetAsync<T>(string key) where T : class
    {
        var value = await manager.TryGetStateAsync<T>(key);
        return value.HasValue ? value.Value : null;
    }

    public Task SetAsync<T>(string key, T value, TimeSpan? ttl = null) where T : class =>
        ttl is { } expires ? manager.SetStateAsync(key, value, expires) : manager.SetStateAsync(key, value);

    public Task RemoveAsync(string key) => manager.TryRemoveStateAsync(key);
}
