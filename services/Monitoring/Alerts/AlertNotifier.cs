using System.Net.Http.Json;
using AgenticFlow.Monitoring.Domain;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// Tells the world about stored transitions, from the outbox of <see cref="AlertStore"/>: each notice is recorded in
/// the event log, published as <c>monitoring.alert-firing</c> / <c>monitoring.alert-resolved</c> on the pub/sub, then
/// (unless the rule was silenced) sent as a message to the rule's topic through the messaging service (every agent
/// subscribed gets it; the event id is the idempotency key, so a repeat makes no second copy) and POSTed to its
/// webhook (with an <c>Idempotency-Key</c> header). Each part is marked done in the store as it succeeds; a failed part
/// is retried with doubling pauses up to <see cref="MonitoringOptions.WebhookAttempts"/> times, after a restart too.
/// Delivery is at least once: a crash between a delivery and its mark repeats it, with the same key.
/// </summary>
public sealed partial class AlertNotifier(
    DaprClient dapr, AlertStore store, AppInvoker apps, IHttpClientFactory clients, IOptions<MonitoringOptions> options, TimeProvider time, ILogger<AlertNotifier> logger) : BackgroundService
{
    public const string FiringTopic = "monitoring.alert-firing";
    public const string ResolvedTopic = "monitoring.alert-resolved";
    public const string WebhookClient = "alert-webhooks";

    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>A notice was queued: look now rather than at the next tick.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try { _wake.Release(); } catch (SemaphoreFullException) { }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.AlertIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var notice in await store.OutboxAsync(stoppingToken))
                {
                    if (notice.NextAttempt <= time.GetUtcNow())
                    {
                        await store.NoticeProgressAsync(await DeliverAsync(notice, stoppingToken), stoppingToken);
                    }
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogOutboxFailed(ex);
            }
            using var tick = new CancellationTokenSource(interval, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(tick.Token, stoppingToken);
            try
            {
                await _wake.WaitAsync(either.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The interval passed without a wake: look anyway (retries come due by time).
            }
        }
    }

    /// <summary>Does what is left of one notice; answers how far it got.</summary>
    private async Task<Notice> DeliverAsync(Notice notice, CancellationToken ct)
    {
        var e = notice.Event;
        var target = "event log";
        try
        {
            if (!notice.Recorded)
            {
                await store.AppendEventAsync(e, ct);
                notice = notice with { Recorded = true };
            }
            target = "pub/sub";
            if (!notice.Published)
            {
                await dapr.PublishEventAsync(options.Value.PubSub, e.Kind == AlertEventKinds.Firing ? FiringTopic : ResolvedTopic, e, ct);
                notice = notice with { Published = true };
            }
            if (e.Silenced)
            {
                return notice with { TopicDone = true, WebhookDone = true };
            }
            if (!notice.TopicDone && notice.Notify.Topic is { } topic)
            {
                target = "topic " + topic;
                await SendToTopicAsync(topic, e, ct);
            }
            notice = notice with { TopicDone = true };
            if (!notice.WebhookDone && notice.Notify.Webhook is { } webhook)
            {
                target = "webhook " + WebhookTargets.Redact(webhook);
                await PostWebhookAsync(webhook, e, ct);
            }
            return notice with { WebhookDone = true };
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Dapr.DaprException && !ct.IsCancellationRequested)
        {
            var attempts = notice.Attempts + 1;
            if (attempts >= options.Value.WebhookAttempts)
            {
                LogGaveUp(ex, e.Id, target, attempts);
                return notice with { Recorded = true, Published = true, TopicDone = true, WebhookDone = true, Attempts = attempts };
            }
            LogRetry(e.Id, target, attempts, ex.Message);
            var pause = TimeSpan.FromSeconds(options.Value.WebhookBackoffSeconds * Math.Pow(2, attempts - 1));
            return notice with { Attempts = attempts, NextAttempt = time.GetUtcNow() + pause };
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
        var uri = new Uri(webhook);
        await WebhookTargets.CheckResolvedAsync(uri, options.Value.AllowPrivateWebhooks, ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent.Create(alertEvent) };
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Reading the alert outbox failed; trying again on the next tick")]
    private partial void LogOutboxFailed(Exception ex);
}
