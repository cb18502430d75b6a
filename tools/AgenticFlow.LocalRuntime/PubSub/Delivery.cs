using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.Timing;
using AgenticFlow.LocalRuntime.Tracing;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.PubSub;

public enum DeliveryOutcome { Success, Retry, Drop }

/// <summary>
/// Hands broker messages to the app the way daprd does: CloudEvents (or raw payloads) POSTed to the routed
/// path; 2xx with empty or SUCCESS status acknowledges, RETRY or a non-2xx answer retries with the
/// component's inbound retry policy, DROP or 404 drops; after the last retry the message goes to the
/// dead-letter topic when one is set, and is dropped otherwise. Each delivery is a CLIENT span
/// (<c>pubsub/{topic}</c>) under the event's <c>traceparent</c>, whose context the app receives.
/// </summary>
public sealed class Delivery(string appId, AppChannel app, ILogger logger, SidecarTracer? tracer = null)
{
    private readonly SidecarTracer _tracer = tracer ?? SidecarTracer.Disabled(appId + "-sidecar");

    private AppChannel App => app;
    private ILogger Logger => logger;

    public Func<BrokerMessage, CancellationToken, Task> HandlerFor(TopicSubscription subscription, PubSubComponent pubsub, CancellationToken lifetime)
    {
        Func<BrokerMessage, CancellationToken, Task<DeliveryOutcome>> deliverOnce = subscription.BulkEnabled
            ? new BulkDispatcher(this, subscription, pubsub, lifetime).DeliverAsync
            : (m, ct) => DeliverOnceAsync(subscription, pubsub, m, ct);

        return async (message, ct) =>
        {
            if (IsExpired(message))
            {
                logger.LogInformation("Message {Id} on {Topic} expired before delivery; dropped", message.Id, subscription.Topic);
                return;
            }
            if (await pubsub.InboundRetry.RetryAsync(async _ => await deliverOnce(message, ct) != DeliveryOutcome.Retry, TimeProvider.System, ct))
            {
                return;
            }
            if (subscription.DeadLetterTopic is { Length: > 0 } deadLetter)
            {
                await pubsub.Broker.PublishAsync(deadLetter, message, ct);
                logger.LogWarning("Message {Id} on {Topic} failed every retry; sent to dead-letter topic {DeadLetter}", message.Id, subscription.Topic, deadLetter);
            }
            else
            {
                logger.LogWarning("Message {Id} on {Topic} failed every retry and no dead-letter topic is set; dropped", message.Id, subscription.Topic);
            }
        };
    }

    private static bool IsExpired(BrokerMessage message) =>
        message.Metadata.TryGetValue("expiration", out var at) && DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, out var expiry) && expiry <= DateTimeOffset.UtcNow;

    /// <summary>The CloudEvent a rule is matched against, and the body and content type the app receives.</summary>
    internal (JsonElement Event, byte[] Body, string ContentType) Prepare(TopicSubscription subscription, BrokerMessage message)
    {
        var envelope = message.IsRaw ? CloudEvents.WrapRaw(appId, subscription.PubSubName, subscription.Topic, message) : message.Data;
        JsonElement cloudEvent;
        try
        {
            // Cloned so the document's pooled buffers go back at once; this runs for every delivery.
            using var document = JsonDocument.Parse(envelope);
            cloudEvent = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            cloudEvent = default;
        }
        if (subscription.RawPayload)
        {
            var contentType = message.IsRaw ? message.Metadata.GetValueOrDefault("content-type") ?? "application/octet-stream" : "application/octet-stream";
            return (cloudEvent, message.Data, contentType);
        }
        return (cloudEvent, envelope, CloudEvents.ContentType);
    }

    private async Task<DeliveryOutcome> DeliverOnceAsync(TopicSubscription subscription, PubSubComponent pubsub, BrokerMessage message, CancellationToken ct)
    {
        var (cloudEvent, body, contentType) = Prepare(subscription, message);
        var route = cloudEvent.ValueKind == JsonValueKind.Object ? subscription.RouteFor(cloudEvent) : subscription.DefaultRoute;
        if (route is null)
        {
            logger.LogWarning("No route of the subscription to {Topic} matches message {Id}; dropped", subscription.Topic, message.Id);
            return DeliveryOutcome.Drop;
        }
        var span = _tracer.Start("pubsub/" + subscription.Topic, SpanKind.Client, EventContext(cloudEvent));
        SpanShape.Publish(span, pubsub.Name, subscription.Topic);
        span.Tag("messaging.message.id", message.Id).Tag("dapr.route", route);
        using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = AppChannel.Bytes(body, contentType) };
        request.Headers.TryAddWithoutValidation("pubsubname", pubsub.Name);
        span.Propagate(request);
        try
        {
            using var response = await app.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            span.End((int)response.StatusCode);
            return Interpret(response.StatusCode, text, message.Id, subscription.Topic);
        }
        catch (HttpRequestException ex)
        {
            span.Fail(ex.Message);
            span.End();
            logger.LogWarning(ex, "App did not answer for message {Id} on {Topic}; will retry", message.Id, subscription.Topic);
            return DeliveryOutcome.Retry;
        }
    }

    /// <summary>The trace context an event carries (<c>traceparent</c>, <c>tracestate</c>), when it carries one.</summary>
    internal static TraceContext? EventContext(JsonElement cloudEvent)
    {
        if (cloudEvent.ValueKind != JsonValueKind.Object || !cloudEvent.TryGetProperty("traceparent", out var tp) || tp.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        var state = cloudEvent.TryGetProperty("tracestate", out var ts) && ts.ValueKind == JsonValueKind.String ? ts.GetString() : null;
        return TraceContext.TryParse(tp.GetString(), state, out var context) ? context : null;
    }

    internal DeliveryOutcome Interpret(HttpStatusCode status, string body, string id, string topic)
    {
        if (status == HttpStatusCode.NotFound)
        {
            logger.LogWarning("App answered 404 for message {Id} on {Topic}; dropped", id, topic);
            return DeliveryOutcome.Drop;
        }
        if ((int)status is < 200 or > 299)
        {
            return DeliveryOutcome.Retry;
        }
        var statusText = ReadStatus(body);
        return statusText?.ToUpperInvariant() switch
        {
            null or "" or "SUCCESS" => DeliveryOutcome.Success,
            "DROP" => DeliveryOutcome.Drop,
            _ => DeliveryOutcome.Retry,
        };
    }

    private static string? ReadStatus(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.StringField("status");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Collects messages of a bulk subscription into one request of up to maxMessagesCount entries,
    /// sent when full or after maxAwaitDurationMs, and gives each entry its own outcome.</summary>
    private sealed class BulkDispatcher
    {
        private readonly Delivery _owner;
        private readonly TopicSubscription _subscription;
        private readonly PubSubComponent _pubsub;
        private readonly Channel<(BrokerMessage Message, TaskCompletionSource<DeliveryOutcome> Outcome)> _queue = Channel.CreateUnbounded<(BrokerMessage, TaskCompletionSource<DeliveryOutcome>)>();

        public BulkDispatcher(Delivery owner, TopicSubscription subscription, PubSubComponent pubsub, CancellationToken lifetime)
        {
            _owner = owner;
            _subscription = subscription;
            _pubsub = pubsub;
            _ = Task.Run(() => Loop(lifetime), CancellationToken.None);
        }

        public async Task<DeliveryOutcome> DeliverAsync(BrokerMessage message, CancellationToken ct)
        {
            var outcome = new TaskCompletionSource<DeliveryOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            await _queue.Writer.WriteAsync((message, outcome), ct);
            return await outcome.Task.WaitAsync(ct);
        }

        private async Task Loop(CancellationToken ct)
        {
            try
            {
                while (await _queue.Reader.WaitToReadAsync(ct))
                {
                    var batch = new List<(BrokerMessage Message, TaskCompletionSource<DeliveryOutcome> Outcome)>();
                    using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    window.CancelAfter(_subscription.BulkMaxAwaitMs);
                    try
                    {
                        while (batch.Count < _subscription.BulkMaxMessages)
                        {
                            if (_queue.Reader.TryRead(out var item))
                            {
                                batch.Add(item);
                                continue;
                            }
                            if (!await _queue.Reader.WaitToReadAsync(window.Token))
                            {
                                break;
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                    }
                    await SendAsync(batch, ct);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task SendAsync(List<(BrokerMessage Message, TaskCompletionSource<DeliveryOutcome> Outcome)> batch, CancellationToken ct)
        {
            if (batch.Count == 0)
            {
                return;
            }
            var entries = new List<object>();
            var byId = new Dictionary<string, TaskCompletionSource<DeliveryOutcome>>(StringComparer.Ordinal);
            foreach (var (message, outcome) in batch)
            {
                var entryId = Guid.NewGuid().ToString();
                byId[entryId] = outcome;
                var (cloudEvent, body, contentType) = _owner.Prepare(_subscription, message);
                object @event = contentType == CloudEvents.ContentType || CloudEvents.IsJson(contentType)
                    ? (cloudEvent.ValueKind == JsonValueKind.Undefined ? Convert.ToBase64String(body) : cloudEvent)
                    : Convert.ToBase64String(body);
                entries.Add(new { entryId, @event, contentType, metadata = new Dictionary<string, string>() });
            }
            var payload = JsonSerializer.SerializeToUtf8Bytes(new
            {
                id = Guid.NewGuid().ToString(),
                entries,
                metadata = new Dictionary<string, string>(),
                pubsubname = _pubsub.Name,
                topic = _subscription.Topic,
                type = CloudEvents.DefaultEventType,
            });
            var route = _subscription.DefaultRoute ?? _subscription.Rules.FirstOrDefault()?.Path;
            if (route is null)
            {
                foreach (var outcome in byId.Values)
                {
                    outcome.TrySetResult(DeliveryOutcome.Drop);
                }
                return;
            }
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = AppChannel.Bytes(payload, "application/json") };
                using var response = await _owner.App.SendAsync(request, ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                if (!response.IsSuccessStatusCode)
                {
                    var whole = _owner.Interpret(response.StatusCode, text, "bulk", _subscription.Topic);
                    foreach (var outcome in byId.Values)
                    {
                        outcome.TrySetResult(whole);
                    }
                    return;
                }
                using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "{}" : text);
                if (doc.RootElement.TryGetField("statuses", out var statuses) && statuses.ValueKind == JsonValueKind.Array)
                {
                    foreach (var status in statuses.EnumerateArray())
                    {
                        var id = status.StringField("entryId");
                        var s = status.StringField("status");
                        if (id is not null && byId.Remove(id, out var outcome))
                        {
                            outcome.TrySetResult(s?.ToUpperInvariant() switch
                            {
                                "SUCCESS" => DeliveryOutcome.Success,
                                "DROP" => DeliveryOutcome.Drop,
                                _ => DeliveryOutcome.Retry,
                            });
                        }
                    }
                }
                // Entries the app did not answer for are retried, as daprd does.
                foreach (var outcome in byId.Values)
                {
                    outcome.TrySetResult(DeliveryOutcome.Retry);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException)
            {
                _owner.Logger.LogWarning(ex, "Bulk delivery to {Route} failed; entries will be retried", route);
                foreach (var outcome in byId.Values)
                {
                    outcome.TrySetResult(DeliveryOutcome.Retry);
                }
            }
        }
    }
}
