using System.Net.Http.Json;
using System.Threading.Channels;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// Tells the world about a stored transition: the platform events <c>monitoring.alert-firing</c> /
/// <c>monitoring.alert-resolved</c> on the pub/sub, then (unless the rule is silenced) the rule's own targets in the
/// background: a message to the rule's topic through the messaging service (so agents subscribed to it get it, once:
/// the event id is the idempotency key) and a POST to its webhook, each retried with growing pauses.
/// </summary>
public sealed partial class AlertNotifier(
    DaprClient dapr, AgenticFlow.Monitoring.Domain.AppInvoker apps, IHttpClientFactory clients, IOptions<MonitoringOptions> options, TimeProvider time, ILogger<AlertNotifier> logger) : BackgroundService
{
    public const string FiringTopic = "monitoring.alert-firing";
    public const string ResolvedTopic = "monitoring.alert-resolved";
    public const string WebhookClient = "alert-webhooks";

    private readonly Channel<(AlertEvent Event, AlertNotify Notify)> _pending = Channel.CreateUnbounded<(AlertEvent, AlertNotify)>();

    public async Task NotifyAsync(AlertEvent alertEvent, AlertNotify notify, CancellationToken ct)
    {
        await dapr.TryPublishEventAsync(options.Value.PubSub, alertEvent.Kind == AlertEventKinds.Firing ? FiringTopic : ResolvedTopic, alertEvent, logger, ct);
        if (!alertEvent.Silenced && (notify.Topic is not null || notify.Webhook is not null))
        {
            _pending.Writer.TryWrite((alertEvent, notify));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (alertEvent, notify) in _pending.Reader.ReadAllAsync(stoppingToken))
        {
            // Each target on its own, so a slow webhook does not hold back the next event's message.
            if (notify.Topic is { } topic)
            {
                _ = DeliverAsync("topic " + topic, alertEvent, ct => SendToTopicAsync(topic, alertEvent, ct), stoppingToken);
            }
            if (notify.Webhook is { } webhook)
            {
                _ = DeliverAsync("webhook " + webhook, alertEvent, ct => PostWebhookAsync(webhook, alertEvent, ct), stoppingToken);
            }
        }
    }

    private async Task DeliverAsync(string target, AlertEvent alertEvent, Func<CancellationToken, Task> send, CancellationToken ct)
    {
        var pause = TimeSpan.FromSeconds(options.Value.WebhookBackoffSeconds);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await send(ct);
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                if (attempt >= options.Value.WebhookAttempts)
                {
                    LogGaveUp(ex, alertEvent.Id, target, attempt);
                    return;
                }
                LogRetry(alertEvent.Id, target, attempt, ex.Message);
                await Task.Delay(pause, time, ct);
                pause *= 2;
            }
        }
    }

    private async Task SendToTopicAsync(string topic, AlertEvent alertEvent, CancellationToken ct)
    {
        using var response = await apps.Http.PostAsJsonAsync("http://messaging/api/v1/messages", new
        {
            recipient = new { kind = "topic", id = topic },
            priority = alertEvent.Severity == "critical" ? "critical" : "high",
            body = alertEvent,
            idempotencyKey = "alert-" + alertEvent.Id,
            from = "monitoring",
            attributes = new Dictionary<string, string> { ["alert"] = alertEvent.Kind, ["rule"] = alertEvent.RuleId },
        }, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"messaging answered {(int)response.StatusCode}", null, response.StatusCode);
        }
    }

    private async Task PostWebhookAsync(string webhook, AlertEvent alertEvent, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook) { Content = JsonContent.Create(alertEvent) };
        // Receivers can drop a repeat delivery (a retry after a lost answer) by this id.
        request.Headers.Add("Idempotency-Key", "alert-" + alertEvent.Id);
        using var response = await clients.CreateClient(WebhookClient).SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"webhook answered {(int)response.StatusCode}", null, response.StatusCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert event {EventId} to {Target} failed (attempt {Attempt}): {Reason}; retrying")]
    private partial void LogRetry(string eventId, string target, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert event {EventId} to {Target} given up after {Attempts} attempts")]
    private partial void LogGaveUp(Exception ex, string eventId, string target, int attempts);
}
