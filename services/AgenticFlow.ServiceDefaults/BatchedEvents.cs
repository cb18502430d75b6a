using System.Threading.Channels;
using Dapr.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Best-effort events of one topic (as <see cref="DaprEventExtensions.TryPublishEventAsync"/>: what they describe is
/// stored whether or not they leave) published off the request path: <see cref="Enqueue"/> queues the event in this
/// replica and returns; a background loop publishes what queued, alone when it is alone and in bulk publishes of up to
/// <see cref="MaxBatch"/> when many wait, so a busy topic costs one sidecar call per batch instead of one per event and
/// no caller waits for one. The queue is bounded (<see cref="Capacity"/>): when the sidecar falls that far behind,
/// callers wait for room rather than events being dropped; up to <see cref="Publishers"/> publishes are in flight at once. A crash loses the events queued at that moment (a few
/// milliseconds' worth), as a failed publish always lost its event; a graceful stop publishes what is queued first.
/// Events published here carry no trace context of the call that queued them. Measured: waiting on the sent event
/// inside each send (even in batches) cut the message bus's throughput by a fifth.
/// </summary>
public sealed partial class BatchedEvents<T> : BackgroundService
{
    public const int MaxBatch = 100;
    public const int Capacity = 10_000;

    /// <summary>Publishes in flight at once: one slow publish does not hold every event queued behind it.</summary>
    public const int Publishers = 4;

    private readonly DaprClient _dapr;
    private readonly string _pubsub;
    private readonly string _topic;
    private readonly ILogger _logger;
    private readonly Channel<T> _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(Capacity) { SingleReader = false, FullMode = BoundedChannelFullMode.Wait });

    public BatchedEvents(DaprClient dapr, string pubsub, string topic, ILogger<BatchedEvents<T>> logger)
    {
        _dapr = dapr;
        _pubsub = pubsub;
        _topic = topic;
        _logger = logger;
    }

    /// <summary>Queues the event; returns at once unless the queue is full.</summary>
    public ValueTask Enqueue(T payload, CancellationToken ct = default) =>
        _queue.Writer.TryWrite(payload) ? ValueTask.CompletedTask : _queue.Writer.WriteAsync(payload, ct);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Publishers).Select(_ => PublishUntilStoppedAsync(stoppingToken)));

    private async Task PublishUntilStoppedAsync(CancellationToken stoppingToken)
    {
        var batch = new List<T>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await PublishQueuedAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still queued goes out below, then the loop ends.
        }
        _queue.Writer.TryComplete();
        await PublishQueuedAsync(batch);
    }

    private async Task PublishQueuedAsync(List<T> batch)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            if (batch.Count == 0)
            {
                return;
            }
            await PublishAsync(batch);
        }
    }

    private async Task PublishAsync(List<T> events)
    {
        try
        {
            if (events.Count == 1)
            {
                await _dapr.PublishEventAsync(_pubsub, _topic, events[0]);
                return;
            }
            var response = await _dapr.BulkPublishEventAsync(_pubsub, _topic, events);
            if (response.FailedEntries.Count > 0)
            {
                LogSomeNotPublished(_logger, response.FailedEntries.Count, events.Count, _topic, response.FailedEntries[0].ErrorMessage);
            }
        }
        catch (Exception ex)
        {
            // Whatever went wrong (a timeout surfaces as a cancellation too), the loop goes on: a dead loop would fill
            // the queue and stall every caller.
            LogNotPublished(_logger, ex, events.Count, _topic);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} events for topic {Topic} could not be published; what they describe is stored")]
    private static partial void LogNotPublished(ILogger logger, Exception ex, int count, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Failed} of {Count} events for topic {Topic} could not be published ({Error}); what they describe is stored")]
    private static partial void LogSomeNotPublished(ILogger logger, int failed, int count, string topic, string error);
}

public static class BatchedEventsExtensions
{
    /// <summary>Registers <see cref="BatchedEvents{T}"/> for one topic, with its publishing loop as a hosted service.</summary>
    public static IServiceCollection AddBatchedEvents<T>(this IServiceCollection services, Func<IServiceProvider, string> pubsub, string topic)
    {
        services.AddSingleton(sp => new BatchedEvents<T>(sp.GetRequiredService<DaprClient>(), pubsub(sp), topic, sp.GetRequiredService<ILogger<BatchedEvents<T>>>()));
        services.AddHostedService(sp => sp.GetRequiredService<BatchedEvents<T>>());
        return services;
    }
}
