using System.Globalization;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>The publish side of the pub/sub building block, whatever the wire: wraps data in a CloudEvent (or
/// passes it raw) and hands it to the named component's broker.</summary>
public sealed class PublishApi(string appId, IReadOnlyDictionary<string, PubSubComponent> pubsubs, TimeProvider time)
{
    public PubSubComponent Component(string name) =>
        pubsubs.TryGetValue(name, out var p) ? p : throw DaprError.PubSubNotFound(name);

    public BrokerMessage BuildMessage(string pubsubName, string topic, byte[] data, string? contentType, IReadOnlyDictionary<string, string> metadata)
    {
        if (string.IsNullOrEmpty(topic))
        {
            throw new DaprError(HttpStatusCode.NotFound, Grpc.Core.StatusCode.InvalidArgument, "ERR_TOPIC_NAME_EMPTY", $"topic is empty in pubsub {pubsubName}");
        }
        var meta = new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        if (meta.TryGetValue("ttlInSeconds", out var ttlText))
        {
            if (!int.TryParse(ttlText, out var ttl) || ttl <= 0)
            {
                throw DaprError.Malformed($"ttlInSeconds '{ttlText}' must be a positive whole number");
            }
            meta["expiration"] = time.GetUtcNow().AddSeconds(ttl).ToString("O", CultureInfo.InvariantCulture);
        }
        var id = Guid.NewGuid().ToString();
        var isRaw = meta.TryGetValue("rawPayload", out var raw) && string.Equals(raw, "true", StringComparison.OrdinalIgnoreCase);
        if (isRaw)
        {
            meta["rawPayload"] = "true";
            meta["content-type"] = contentType ?? "application/octet-stream";
            return new BrokerMessage(id, data, meta);
        }
        try
        {
            var envelope = CloudEvents.Wrap(appId, pubsubName, topic, data, contentType, meta);
            return new BrokerMessage(id, envelope, meta);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_PUBSUB_CLOUD_EVENTS_SER", ex.Message);
        }
    }

    public async Task PublishAsync(string pubsubName, string topic, BrokerMessage message, CancellationToken ct)
    {
        var pubsub = Component(pubsubName);
        try
        {
            await pubsub.Broker.PublishAsync(topic, message, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_PUBSUB_PUBLISH_MESSAGE",
                $"error when publish to topic {topic} in pubsub {pubsubName}: {ex.Message}");
        }
    }

    /// <summary>Publishes each entry of a bulk publish; the entries that failed come back with their errors.</summary>
    public async Task<List<(string EntryId, string Error)>> PublishAllAsync(
        string pubsubName, string topic, IReadOnlyList<(string EntryId, BrokerMessage Message)> entries, CancellationToken ct)
    {
        var results = await Task.WhenAll(entries.Select(async e =>
        {
            try
            {
                await PublishAsync(pubsubName, topic, e.Message, ct);
                return (e.EntryId, (string?)null);
            }
            catch (DaprError ex)
            {
                return (e.EntryId, ex.Message);
            }
        }));
        return results.Where(r => r.Item2 is not null).Select(r => (r.EntryId, r.Item2!)).ToList();
    }
}
