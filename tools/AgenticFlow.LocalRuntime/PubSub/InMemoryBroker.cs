using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>
/// <c>pubsub.in-memory</c>: a channel per (topic, group). Messages published to a topic before any group
/// subscribes are discarded, as with daprd's in-memory broker. Within one <c>run</c>, every sidecar shares
/// the instance of a component name, so apps can talk across sidecars without Redis.
/// </summary>
public sealed class InMemoryBroker(int concurrency, ILogger logger) : IPubSubBroker
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Channel<BrokerMessage>>> _topics = new(StringComparer.Ordinal);

    public Task InitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task PublishAsync(string topic, BrokerMessage message, CancellationToken cancellationToken)
    {
        if (_topics.TryGetValue(topic, out var groups))
        {
            foreach (var channel in groups.Values)
            {
                channel.Writer.TryWrite(message);
            }
        }
        return Task.CompletedTask;
    }

    public Task<IAsyncDisposable> SubscribeAsync(string topic, string group, Func<BrokerMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var channel = _topics.GetOrAdd(topic, _ => new(StringComparer.Ordinal))
            .GetOrAdd(group, _ => Channel.CreateUnbounded<BrokerMessage>());
        var cts = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Math.Max(1, concurrency)).Select(_ => Task.Run(() => Consume(channel, handler, cts.Token))).ToArray();
        return Task.FromResult<IAsyncDisposable>(new AsyncDisposableAction(async () =>
        {
            await cts.CancelAsync();
            await Task.WhenAll(workers);
            cts.Dispose();
        }));
    }

    private async Task Consume(Channel<BrokerMessage> channel, Func<BrokerMessage, CancellationToken, Task> handler, CancellationToken ct)
    {
        try
        {
            await foreach (var message in channel.Reader.ReadAllAsync(ct))
            {
                try
                {
                    await handler(message, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    channel.Writer.TryWrite(message);
                    return;
                }
                catch (Exception ex)
                {
                    // Not acknowledged: hand it back for another delivery after a pause.
                    logger.LogWarning(ex, "Delivery of message {Id} failed; it will be delivered again", message.Id);
                    await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
                    channel.Writer.TryWrite(message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
