namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>A message as a broker holds it: the bytes that were published (a CloudEvent, or a raw payload) and
/// the publish metadata that travels with them.</summary>
public sealed record BrokerMessage(string Id, byte[] Data, IReadOnlyDictionary<string, string> Metadata)
{
    public bool IsRaw => Metadata.TryGetValue("rawPayload", out var raw) && string.Equals(raw, "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The transport behind a pub/sub component. Consumers in one group compete for messages; every group gets
/// every message. A handler that returns normally acknowledges the message; one that throws leaves it to be
/// delivered again (at-least-once).
/// </summary>
public interface IPubSubBroker : IAsyncDisposable
{
    Task InitAsync(CancellationToken cancellationToken);

    /// <summary>Returns once the message is stored as durably as the broker stores anything.</summary>
    Task PublishAsync(string topic, BrokerMessage message, CancellationToken cancellationToken);

    /// <summary>Starts delivering <paramref name="topic"/> to <paramref name="handler"/> as a member of <paramref name="group"/>.</summary>
    Task<IAsyncDisposable> SubscribeAsync(string topic, string group, Func<BrokerMessage, CancellationToken, Task> handler, CancellationToken cancellationToken);
}

internal sealed class AsyncDisposableAction(Func<ValueTask> dispose) : IAsyncDisposable
{
    private int _disposed;

    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? dispose() : ValueTask.CompletedTask;
}
