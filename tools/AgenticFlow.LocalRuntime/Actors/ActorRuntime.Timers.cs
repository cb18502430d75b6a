using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.Timing;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>Actor timers: they live with the activation and fire as turns of the actor; and the delivery of a
/// timer or reminder to the app.</summary>
public sealed partial class ActorRuntime
{
    /// <summary>Starts (or replaces) a timer of an activation here; it fires as a turn and ends with the activation.</summary>
    public void CreateTimer(string type, string id, string name, JsonElement body)
    {
        var now = DateTimeOffset.UtcNow;
        var schedule = ActorSchedule.Parse(body, now, requireCallback: false);
        var actor = _active.GetOrAdd((type, id), key => new ActiveActor(key.Type, key.Id));
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        lock (actor.Timers)
        {
            if (actor.Timers.Remove(name, out var previous))
            {
                previous.Cancel();
            }
            actor.Timers[name] = cancel;
        }
        // The callback body the SDKs read: data and callback as registered, times in the form every SDK parses.
        var callback = new JsonObject
        {
            ["data"] = body.TryGetField("data", out var data) ? JsonNode.Parse(data.GetRawText()) : null,
            ["callback"] = body.StringField("callback"),
            ["dueTime"] = ActorDurations.ForApp(body.StringField("dueTime")),
            ["period"] = ActorDurations.ForApp(body.StringField("period")),
        };
        var payload = Encoding.UTF8.GetBytes(callback.ToJsonString());
        // Without the registering request's execution context: each fire is work of its own, not more of that
        // request's trace (its trace context would otherwise ride on every callback for the timer's life).
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => RunTimerAsync(actor, name, schedule, payload, cancel), CancellationToken.None);
        }
    }

    public void DeleteTimer(string type, string id, string name)
    {
        if (_active.TryGetValue((type, id), out var actor))
        {
            lock (actor.Timers)
            {
                if (actor.Timers.Remove(name, out var timer))
                {
                    timer.Cancel();
                }
            }
        }
    }

    /// <summary>Fires one timer until it is deleted, replaced, runs out or its activation ends; owns (and finally
    /// disposes) <paramref name="cancel"/>, which only ever stops waiting, never a callback the app is running.</summary>
    private async Task RunTimerAsync(ActiveActor actor, string name, ActorSchedule schedule, byte[] payload, CancellationTokenSource cancel)
    {
        var ct = cancel.Token;
        try
        {
            var next = schedule.FirstAt;
            var remaining = schedule.Period?.Repetitions;
            while (!ct.IsCancellationRequested)
            {
                await _host.Time.DelayUntilAsync(next, ct);
                if (schedule.ExpiresAt is { } expires && DateTimeOffset.UtcNow >= expires || actor.Deactivated)
                {
                    return;
                }
                await FireAsync(actor.Type, actor.Id, "timer/" + Uri.EscapeDataString(name), payload, checkPlacement: false, ct);
                if (schedule.Period is not { } period || period.Every <= TimeSpan.Zero || (remaining is not null && --remaining <= 0))
                {
                    return;
                }
                // Periods missed while the turn waited for the lock are skipped, not fired back to back.
                var now = DateTimeOffset.UtcNow;
                next += period.Every;
                if (next <= now)
                {
                    next = now + period.Every - TimeSpan.FromTicks((now - next).Ticks % period.Every.Ticks);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Timer {Name} of actor {Type}/{Id} stopped", name, actor.Type, actor.Id);
        }
        finally
        {
            lock (actor.Timers)
            {
                if (actor.Timers.TryGetValue(name, out var current) && current == cancel)
                {
                    actor.Timers.Remove(name);
                }
                cancel.Dispose();
            }
        }
    }

    /// <summary>What became of a timer or reminder firing.</summary>
    internal enum Delivery { Delivered, Refused, NotDelivered }

    /// <summary>Delivers a timer or reminder to the app as a turn of the actor: <see cref="Delivery.Refused"/> when the
    /// app answered with an error, <see cref="Delivery.NotDelivered"/> when it could not be reached, the actor is
    /// placed elsewhere now, or the sidecar is stopping.</summary>
    internal async Task<Delivery> FireAsync(string type, string id, string rest, byte[] payload, bool checkPlacement, CancellationToken ct)
    {
        try
        {
            using var response = await CallAppAsync(type, id, null, _ => new HttpRequestMessage(HttpMethod.Put, AppPath(type, id, "method/" + rest))
            {
                Content = AppChannel.Bytes(payload, "application/json"),
            }, checkPlacement, ct);
            if (!response.IsSuccessStatusCode)
            {
                _logger.LogWarning("App answered {Status} to {What} of actor {Type}/{Id}", (int)response.StatusCode, rest, type, id);
                return Delivery.Refused;
            }
            return Delivery.Delivered;
        }
        catch (ActorMovedException)
        {
            return Delivery.NotDelivered;
        }
        catch (DaprError error)
        {
            _logger.LogWarning("Could not deliver {What} to actor {Type}/{Id}: {Message}", rest, type, id, error.Message);
            return Delivery.NotDelivered;
        }
    }
}
