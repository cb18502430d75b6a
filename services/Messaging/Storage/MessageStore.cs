using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticFlow.Messaging.Domain;
using Dapr;
using Dapr.Client;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Storage;

/// <summary>
/// Messages, mailboxes and subscriptions in the Dapr state store. Every change to a mailbox is one state
/// transaction guarded by the mailbox's ETag, so replicas of the service may run side by side: when two
/// change one mailbox at once, one transaction fails and is redone on fresh state.
/// </summary>
public sealed class MessageStore
{
    /// <summary>The most one state transaction of <see cref="SaveMessagesAsync"/> carries, in estimated bytes of its
    /// records (<see cref="EstimatedBytes"/>): well under daprd's default 4 MB request limit. A single call's records
    /// heavier than that still go, alone.</summary>
    public const int MaxTransactionBytes = 2 * 1024 * 1024;

    /// <summary>A record's stored size, near enough to bound a transaction: its body and attributes as JSON plus the
    /// fixed fields.</summary>
    public static int EstimatedBytes(StoredMessage message) =>
        512 + System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(message.Body).Length + message.Attributes.Sum(a => a.Key.Length + a.Value.Length + 8);

    private readonly DaprClient dapr;
    private readonly IOptions<MessagingOptions> options;
    private readonly StripedGroupCommit<IReadOnlyList<StoredMessage>, bool> _recordWrites;

    public MessageStore(DaprClient dapr, IOptions<MessagingOptions> options)
    {
        this.dapr = dapr;
        this.options = options;
        // Up to four transactions in flight: one at a time made every send and ack of the replica wait in one line.
        _recordWrites = new(WriteRecordsAsync, MaxTransactionBytes, stripes: 4, weight: records => records.Sum(EstimatedBytes));
    }

    private const int MaxAttempts = 50;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly StateOptions InsertOnly = new() { Concurrency = ConcurrencyMode.FirstWrite };

    private string Store => options.Value.StateStore;

    public static string MailboxKey(string agentId) => "mailbox:" + agentId;
    public static string MessageKey(string messageId) => "message:" + messageId;
    public static string IdempotencyKey(string key) => "idempotency:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    public const string SubscriptionsKey = "subscriptions";

    /// <summary>The sweeper's list of mailboxes, in <see cref="MailboxListShards"/> documents by a stable hash of the
    /// agent id: agents met for the first time at once (a fleet starting) change different documents instead of
    /// all retrying one ETag, and no document holds every agent ever seen.</summary>
    public const int MailboxListShards = 16;

    public static string MailboxesKey(int shard) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"mailboxes:{shard}");

    /// <summary>The one list document of earlier versions: still read, never written.</summary>
    public const string LegacyMailboxesKey = "mailboxes";

    public static int MailboxListShard(string agentId) => SHA256.HashData(Encoding.UTF8.GetBytes(agentId))[0] % MailboxListShards;

    /// <summary>Agents this replica has already seen listed: listing is needed once per agent, not per message.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _listed = new(StringComparer.Ordinal);

    /// <summary>Adds an agent to the list of mailboxes the sweeper visits (once; idempotent).</summary>
    public async Task ListMailboxAsync(string agentId, CancellationToken ct)
    {
        if (_listed.ContainsKey(agentId))
        {
            return;
        }
        await ChangeDocumentAsync<HashSet<string>, bool>(MailboxesKey(MailboxListShard(agentId)), () => new HashSet<string>(StringComparer.Ordinal),
            set => set.Add(agentId) is var added ? (added, added) : default, ct);
        _listed[agentId] = true;
    }

    public async Task<IReadOnlyCollection<string>> ListedMailboxesAsync(CancellationToken ct)
    {
        var keys = Enumerable.Range(0, MailboxListShards).Select(MailboxesKey).Append(LegacyMailboxesKey).ToList();
        var documents = await dapr.GetBulkStateAsync<List<string>>(Store, keys, parallelism: 4, cancellationToken: ct);
        return documents.Where(d => d.Value is not null).SelectMany(d => d.Value).ToHashSet(StringComparer.Ordinal);
    }

    public Task<StoredMessage?> GetMessageAsync(string id, CancellationToken ct) => dapr.GetStateAsync<StoredMessage?>(Store, MessageKey(id), cancellationToken: ct);

    public async Task<IReadOnlyList<StoredMessage>> GetMessagesAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }
        var items = await dapr.GetBulkStateAsync<StoredMessage>(Store, ids.Select(MessageKey).ToList(), parallelism: 8, cancellationToken: ct);
        var byKey = items.Where(i => i.Value is not null).ToDictionary(i => i.Key, i => i.Value);
        return ids.Select(id => byKey.GetValueOrDefault(MessageKey(id))).OfType<StoredMessage>().ToList();
    }

    public Task<Mailbox?> GetMailboxAsync(string agentId, CancellationToken ct) => dapr.GetStateAsync<Mailbox?>(Store, MailboxKey(agentId), cancellationToken: ct);

    public Task<IdempotentResult?> GetIdempotentAsync(string key, CancellationToken ct) => dapr.GetStateAsync<IdempotentResult?>(Store, IdempotencyKey(key), cancellationToken: ct);

    /// <summary>
    /// Reads the mailbox, lets <paramref name="change"/> modify it and name other writes, and commits all of it
    /// in one transaction, redoing the whole step when another writer got there first.
    /// <paramref name="change"/> returns null to leave everything unchanged.
    /// </summary>
    public async Task<T> ChangeMailboxAsync<T>(string agentId, Func<Mailbox, MailboxChange<T>?> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (mailbox, etag) = await dapr.GetStateAndETagAsync<Mailbox?>(Store, MailboxKey(agentId), cancellationToken: ct);
            mailbox ??= new Mailbox();
            var result = change(mailbox);
            if (result is null)
            {
                return default!;
            }
            var ops = new List<StateTransactionRequest>
            {
                string.IsNullOrEmpty(etag)
                    ? new StateTransactionRequest(MailboxKey(agentId), Bytes(mailbox), StateOperationType.Upsert, options: InsertOnly)
                    : new StateTransactionRequest(MailboxKey(agentId), Bytes(mailbox), StateOperationType.Upsert, etag),
            };
            ops.AddRange(result.Writes);
            try
            {
                await dapr.ExecuteStateTransactionAsync(Store, ops, cancellationToken: ct);
                return result.Value;
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < MaxAttempts)
            {
                if (result.OnConflict is { } check && await check(ct) is { } settled)
                {
                    return settled;
                }
                await Task.Delay(Random.Shared.Next(1, 5 + attempt * 2), ct);
            }
        }
    }

    public Task<T> ChangeSubscriptionsAsync<T>(Func<SubscriptionSet, (bool Changed, T Value)> change, CancellationToken ct) =>
        ChangeDocumentAsync(SubscriptionsKey, () => new SubscriptionSet(), change, ct);

    /// <summary>One document changed under its ETag (see <see cref="DaprStateExtensions.ChangeStateAsync"/>).</summary>
    private Task<T> ChangeDocumentAsync<TDocument, T>(string key, Func<TDocument> empty, Func<TDocument, (bool Changed, T Value)> change, CancellationToken ct)
        where TDocument : class => dapr.ChangeStateAsync(Store, key, empty, change, ct, MaxAttempts);

    public async Task<SubscriptionSet> GetSubscriptionsAsync(CancellationToken ct) =>
        await dapr.GetStateAsync<SubscriptionSet?>(Store, SubscriptionsKey, cancellationToken: ct) ?? new SubscriptionSet();

    /// <summary>Writes a message record on its own (a topic message before its fan-out), with its idempotency key if any.</summary>
    public async Task<bool> TryInsertAsync(StoredMessage message, string? idempotencyKey, CancellationToken ct)
    {
        var ops = new List<StateTransactionRequest> { Write(message) };
        if (idempotencyKey is not null)
        {
            ops.Add(Remember(idempotencyKey, message));
        }
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store, ops, cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }

    /// <summary>Writes message records (new ones, the acked status) in one transaction, together with the records
    /// other calls are writing at the same moment: plain upserts, so one transaction can carry them all. Returns once
    /// the transaction that carried them committed; a failed one fails every call it carried.</summary>
    public Task SaveMessagesAsync(IReadOnlyList<StoredMessage> messages, CancellationToken ct) =>
        messages.Count == 0 ? Task.CompletedTask : _recordWrites.SubmitAsync(messages);

    private async Task<IReadOnlyList<bool>> WriteRecordsAsync(IReadOnlyList<IReadOnlyList<StoredMessage>> calls)
    {
        var records = calls.SelectMany(c => c).ToList();
        var writes = records.Select(Write).ToList();
        await dapr.ExecuteStateTransactionAsync(Store, writes);
        for (var i = 0; i < records.Count; i++)
        {
            if (records[i].Status == MessageStatus.Queued)
            {
                _queued.Set(records[i].Id, records[i], new MemoryCacheEntryOptions { Size = CachedSize(writes[i].Value), AbsoluteExpirationRelativeToNow = QueuedCacheFor });
            }
            else
            {
                _queued.Remove(records[i].Id);
            }
        }
        return Enumerable.Repeat(true, calls.Count).ToList();
    }

    /// <summary>
    /// Records of queued messages this replica wrote lately, by id, bounded by their stored size
    /// (<see cref="QueuedCacheBytes"/>): a message is mostly received and acked within moments of its send, and both
    /// need its record (the body to hand out; the record to mark acked), which then costs no read. Only queued records
    /// are kept and only for the receive and ack paths, where the message is queued by definition (leased from its
    /// mailbox); a record's content never changes but for its status, which those paths do not take from here.
    /// GET of a message always reads the store.
    /// </summary>
    private readonly MemoryCache _queued = new(new MemoryCacheOptions { SizeLimit = QueuedCacheBytes });

    public const long QueuedCacheBytes = 32 * 1024 * 1024;

    /// <summary>What a cached record holds in memory, about: its parsed body keeps the JSON text and the record's
    /// strings, objects and cache entry come on top.</summary>
    private static long CachedSize(byte[]? stored) => 2L * (stored?.Length ?? 0) + 1024;
    private static readonly TimeSpan QueuedCacheFor = TimeSpan.FromMinutes(5);

    /// <summary>The records of messages just leased from their mailbox (so queued): from this replica's recent writes
    /// where it has them, the rest from the store, in the order asked.</summary>
    public async Task<IReadOnlyList<StoredMessage>> GetQueuedMessagesAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        var found = new Dictionary<string, StoredMessage>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in ids)
        {
            if (_queued.TryGetValue<StoredMessage>(id, out var cached) && cached is not null)
            {
                found[id] = cached;
            }
            else
            {
                missing.Add(id);
            }
        }
        foreach (var read in await GetMessagesAsync(missing, ct))
        {
            found[read.Id] = read;
        }
        return ids.Where(found.ContainsKey).Select(id => found[id]).ToList();
    }

    /// <summary>Removes message records (written ahead for messages that were not queued after all) in one transaction.</summary>
    public async Task DeleteMessagesAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        foreach (var id in ids)
        {
            _queued.Remove(id);
        }
        await dapr.ExecuteStateTransactionAsync(Store, ids.Select(id => new StateTransactionRequest(MessageKey(id), null, StateOperationType.Delete)).ToList(), cancellationToken: ct);
    }

    /// <summary>Writes a message record only if none is stored under its id; false when one is.</summary>
    public async Task<bool> TryInsertMessageAsync(StoredMessage message, CancellationToken ct)
    {
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store, [new StateTransactionRequest(MessageKey(message.Id), Bytes(message), StateOperationType.Upsert, options: InsertOnly)], cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }


    public StateTransactionRequest Write(StoredMessage message)
    {
        var metadata = message.Status is MessageStatus.Acked
            ? new Dictionary<string, string> { ["ttlInSeconds"] = options.Value.AckedRetentionSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) }
            : null;
        return new StateTransactionRequest(MessageKey(message.Id), Bytes(message), StateOperationType.Upsert, metadata: metadata);
    }

    public StateTransactionRequest Remember(string idempotencyKey, StoredMessage message) => new(
        IdempotencyKey(idempotencyKey),
        Bytes(new IdempotentResult(message.Id, message.RecipientKind, message.RecipientId, message.Priority.Name())),
        StateOperationType.Upsert,
        metadata: new Dictionary<string, string> { ["ttlInSeconds"] = options.Value.IdempotencyRetentionSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        options: InsertOnly);

    private static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Json);
}

/// <summary>A mailbox change: the value to return, other writes of the same transaction, and what to check when it conflicts.</summary>
public sealed record MailboxChange<T>(T Value, IReadOnlyList<StateTransactionRequest> Writes, Func<CancellationToken, Task<T?>>? OnConflict = null);
