using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>Settings of <c>pubsub.redis</c>, with daprd's metadata names.</summary>
public sealed record RedisStreamsOptions(
    string ConsumerName,
    TimeSpan ProcessingTimeout,
    TimeSpan RedeliverInterval,
    int Concurrency,
    long? MaxLenApprox);

/// <summary>
/// <c>pubsub.redis</c> on Redis Streams with consumer groups: a publish returns after XADD, a message is
/// XACKed only after its handler finished, and pending entries come back — this consumer's own at start,
/// any consumer's once idle past <c>processingTimeout</c> — so a crash loses nothing.
/// </summary>
public sealed class RedisStreamsBroker(IConnectionMultiplexer redis, ConfigurationOptions readerConfig, int database, RedisStreamsOptions options, ILogger logger)
    : IPubSubBroker
{
    private readonly ConcurrentBag<ConnectionMultiplexer> _readers = [];

    private RedisStreamsOptions Options => options;
    private ILogger Logger => logger;

    public Task InitAsync(CancellationToken cancellationToken) => redis.GetDatabase(database).PingAsync();

    public async Task PublishAsync(string topic, BrokerMessage message, CancellationToken cancellationToken)
    {
        NameValueEntry[] fields =
        [
            new("data", message.Data),
            new("meta", JsonSerializer.Serialize(message.Metadata)),
            new("id", message.Id),
        ];
        await redis.GetDatabase(database).StreamAddAsync(topic, fields, maxLength: (int?)options.MaxLenApprox, useApproximateMaxLength: options.MaxLenApprox is not null);
    }

    public async Task<IAsyncDisposable> SubscribeAsync(string topic, string group, Func<BrokerMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase(database);
        try
        {
            await db.StreamCreateConsumerGroupAsync(topic, group, "0", createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }

        // Blocking reads tie up a connection, so each subscription reads on its own.
        var reader = await ConnectionMultiplexer.ConnectAsync(readerConfig);
        _readers.Add(reader);
        var cts = new CancellationTokenSource();
        var subscription = new Subscription(this, topic, group, handler, reader.GetDatabase(database), db, cts.Token);
        var loops = new[] { Task.Run(subscription.ReadLoop), Task.Run(subscription.ReclaimLoop) };
        return new AsyncDisposableAction(async () =>
        {
            await cts.CancelAsync();
            try
            {
                await Task.WhenAll(loops);
            }
            catch (OperationCanceledException)
            {
            }
            await subscription.DrainAsync();
            await reader.CloseAsync();
            cts.Dispose();
        });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var reader in _readers)
        {
            await reader.DisposeAsync();
        }
    }

    private sealed class Subscription(
        RedisStreamsBroker owner,
        string topic,
        string group,
        Func<BrokerMessage, CancellationToken, Task> handler,
        IDatabase blockingDb,
        IDatabase db,
        CancellationToken ct)
    {
        private readonly SemaphoreSlim _slots = new(owner.Options.Concurrency);
        private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

        /// <summary>What a loop retries: a Redis error, or a timeout — which is not a RedisException, so a loop that
        /// caught only those ended for good on one slow answer from a loaded or paused Redis.</summary>
        private static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException;

        public async Task ReadLoop()
        {
            // First this consumer's own pending entries: what it had taken before a crash. Retried like every read:
            // a Redis slow to answer right after the subscription started ended this loop for good, so the
            // subscription never delivered anything (and its close threw the timeout).
            StreamEntry[] pending;
            while (true)
            {
                try
                {
                    pending = await db.StreamReadGroupAsync(topic, group, owner.Options.ConsumerName, "0", count: 1000);
                    break;
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    if (ct.IsCancellationRequested)
                    {
                        return;
                    }
                    owner.Logger.LogWarning(ex, "Reading the pending entries of stream {Topic} failed; retrying", topic);
                    await Task.Delay(500, ct);
                }
            }
            foreach (var entry in pending)
            {
                await Dispatch(entry);
            }
            while (!ct.IsCancellationRequested)
            {
                RedisResult result;
                try
                {
                    result = await blockingDb.ExecuteAsync("XREADGROUP", "GROUP", group, owner.Options.ConsumerName,
                        "COUNT", owner.Options.Concurrency, "BLOCK", 1000, "STREAMS", topic, ">");
                }
                catch (Exception ex) when (IsRedisFailure(ex) || ex is InvalidCastException)
                {
                    if (ct.IsCancellationRequested)
                    {
                        // The subscription is closing: a read cut short by it (or by the server going away meanwhile)
                        // ends the loop, it does not fail the close.
                        return;
                    }
                    owner.Logger.LogWarning(ex, "Reading stream {Topic} failed; retrying", topic);
                    await Task.Delay(500, ct);
                    continue;
                }
                if (result.IsNull)
                {
                    continue;
                }
                foreach (var stream in (RedisResult[])result!)
                {
                    var parts = (RedisResult[])stream!;
                    foreach (var item in (RedisResult[])parts[1]!)
                    {
                        var pair = (RedisResult[])item!;
                        var fields = (RedisResult[])pair[1]!;
                        var values = new List<NameValueEntry>();
                        for (var i = 0; i + 1 < fields.Length; i += 2)
                        {
                            values.Add(new NameValueEntry((RedisValue)fields[i], (RedisValue)fields[i + 1]));
                        }
                        await Dispatch(new StreamEntry((RedisValue)pair[0], [.. values]));
                    }
                }
            }
        }

        public async Task ReclaimLoop()
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(owner.Options.RedeliverInterval, ct);
                try
                {
                    var claimed = await db.StreamAutoClaimAsync(topic, group, owner.Options.ConsumerName,
                        (long)owner.Options.ProcessingTimeout.TotalMilliseconds, "0-0", 100);
                    foreach (var entry in claimed.ClaimedEntries)
                    {
                        await Dispatch(entry);
                    }
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    if (ct.IsCancellationRequested)
                    {
                        return;
                    }
                    owner.Logger.LogWarning(ex, "Reclaiming pending entries of {Topic} failed; retrying", topic);
                }
            }
        }

        private async Task Dispatch(StreamEntry entry)
        {
            var id = (string)entry.Id!;
            if (entry.IsNull || _inFlight.ContainsKey(id))
            {
                return;
            }
            await _slots.WaitAsync(ct);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_inFlight.TryAdd(id, done.Task))
            {
                _slots.Release();
                return;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    var message = ToMessage(entry);
                    if (message is not null)
                    {
                        await handler(message, ct);
                    }
                    await db.StreamAcknowledgeAsync(topic, group, id);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    // Left pending: the reclaim loop hands it out again after processingTimeout.
                    owner.Logger.LogWarning(ex, "Message {Id} on {Topic} was not processed; it stays pending", id, topic);
                }
                finally
                {
                    _inFlight.TryRemove(id, out _);
                    _slots.Release();
                    done.SetResult();
                }
            }, CancellationToken.None);
        }

        public async Task DrainAsync()
        {
            try
            {
                await Task.WhenAll(_inFlight.Values);
            }
            catch (OperationCanceledException)
            {
            }
        }

        private BrokerMessage? ToMessage(StreamEntry entry)
        {
            var data = entry["data"];
            if (data.IsNull)
            {
                owner.Logger.LogWarning("Stream entry {Id} on {Topic} has no data field; acknowledging it", entry.Id, topic);
                return null;
            }
            var meta = entry["meta"];
            var metadata = meta.IsNull
                ? new Dictionary<string, string>()
                : JsonSerializer.Deserialize<Dictionary<string, string>>((string)meta!) ?? [];
            var id = entry["id"];
            return new BrokerMessage(id.IsNull ? (string)entry.Id! : (string)id!, (byte[])data!, metadata);
        }
    }
}
