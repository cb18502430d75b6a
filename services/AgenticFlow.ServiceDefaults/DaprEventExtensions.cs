using Dapr.Client;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.ServiceDefaults;

public static partial class DaprEventExtensions
{
    /// <summary>
    /// Publishes an event that describes what was already stored: a failure is logged and swallowed, because the
    /// stored change stands whether or not its event leaves. Use it only for such events, never for work that must
    /// happen (those are published with <see cref="DaprClient.PublishEventAsync{TData}(string, string, TData, CancellationToken)"/> and fail the call).
    /// </summary>
    public static async Task TryPublishEventAsync<T>(this DaprClient dapr, string pubsub, string topic, T payload, ILogger logger, CancellationToken ct = default)
    {
        try
        {
            await dapr.PublishEventAsync(pubsub, topic, payload, ct);
        }
        catch (Dapr.DaprException ex)
        {
            LogEventNotPublished(logger, ex, topic);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event for topic {Topic} could not be published; what it describes is stored")]
    private static partial void LogEventNotPublished(ILogger logger, Exception ex, string topic);
}
