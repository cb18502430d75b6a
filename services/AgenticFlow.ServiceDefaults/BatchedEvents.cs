using Dapr.Client;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Best-effort events of one topic (as <see cref="DaprEventExtensions.TryPublishEventAsync"/>) that calls publish at
/// the same moment leave together in one bulk publish: under load a busy topic costs one sidecar call per batch, not
/// per event; a lone event goes at once. Each caller waits until its event was handed to the sidecar (or failed,
/// which is logged and swallowed: what the event describes is stored either way).
/// </summary>
public sealed partial class BatchedEvents<T>
{
    private readonly DaprClient _dapr;
    private readonly string _pubsub;
    private readonly string _topic;
    private readonly ILogger _logger;
    private readonly StripedGroupCommit<T, bool> _publish;

    public BatchedEvents(DaprClient dapr, string pubsub, string topic, ILogger logger, int maxBatch = 100)
    {
        _dapr = dapr;
        _pubsub = pubsub;
        _topic = topic;
        _logger = logger;
        _publish = new StripedGroupCommit<T, bool>(PublishAsync, maxBatch, stripes: 4);
    }

    public Task TryPublishAsync(T payload) => _publish.SubmitAsync(payload);

    private async Task<IReadOnlyList<bool>> PublishAsync(IReadOnlyList<T> events)
    {
        if (events.Count == 1)
        {
            await _dapr.TryPublishEventAsync(_pubsub, _topic, events[0], _logger);
            return [true];
        }
        try
        {
            var response = await _dapr.BulkPublishEventAsync(_pubsub, _topic, events);
            if (response.FailedEntries.Count > 0)
            {
                LogSomeNotPublished(_logger, response.FailedEntries.Count, events.Count, _topic, response.FailedEntries[0].ErrorMessage);
            }
        }
        catch (Dapr.DaprException ex)
        {
            LogNotPublished(_logger, ex, events.Count, _topic);
        }
        return Enumerable.Repeat(true, events.Count).ToList();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} events for topic {Topic} could not be published; what they describe is stored")]
    private static partial void LogNotPublished(ILogger logger, Exception ex, int count, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Failed} of {Count} events for topic {Topic} could not be published ({Error}); what they describe is stored")]
    private static partial void LogSomeNotPublished(ILogger logger, int failed, int count, string topic, string error);
}
