using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The actor HTTP API (<c>/v1.0/actors/{type}/{id}/...</c>) over <see cref="ActorApi"/>: method calls (JSON or the
/// .NET SDK's remoting form, whose <c>X-DaprRequestHeader</c> and <c>X-DaprErrorResponseHeader</c> pass through
/// unchanged), state, reminders and timers. Calls for an actor placed on another sidecar are forwarded to it, as they
/// came, with the peer key.
/// </summary>
public static class ActorHttpApi
{
    public static void MapActorHttpApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/v1.0/actors/{type}/{id}/method/{**method}", ["GET", "POST", "PUT", "DELETE", "PATCH"], (HttpContext c, ActorApi actors, InvocationTargets targets, string type, string id, string method) =>
            Placed(c, actors, targets, type, id, "method/" + Uri.EscapeDataString(method), () => InvokeAsync(c, actors, type, id, method, checkPlacement: true)));
        app.MapGet("/v1.0/actors/{type}/{id}/state/{**key}", GetStateAsync);
        app.MapMethods("/v1.0/actors/{type}/{id}/state", ["PUT", "POST"], SaveStateAsync);
        app.MapMethods("/v1.0/actors/{type}/{id}/reminders/{name}", ["GET", "POST", "PUT", "DELETE"], (HttpContext c, ActorApi actors, InvocationTargets targets, string type, string id, string name) =>
            Placed(c, actors, targets, type, id, "reminders/" + Uri.EscapeDataString(name), () => ReminderAsync(c, actors, type, id, name)));
        app.MapMethods("/v1.0/actors/{type}/{id}/timers/{name}", ["POST", "PUT", "DELETE"], (HttpContext c, ActorApi actors, InvocationTargets targets, string type, string id, string name) =>
            Placed(c, actors, targets, type, id, "timers/" + Uri.EscapeDataString(name), () => TimerAsync(c, actors, type, id, name)));

        // Forwarded by the sidecar that received the call; served here whatever this sidecar thinks of placement,
        // so a call never bounces between two sidecars that briefly disagree.
        var peer = PeerProtocol.ActorsPrefix + "{type}/{id}/";
        app.MapMethods(peer + "method/{**method}", ["GET", "POST", "PUT", "DELETE", "PATCH"], (HttpContext c, SidecarIdentity self, ActorApi actors, string type, string id, string method) =>
            FromPeer(c, self, () => InvokeAsync(c, actors, type, id, method, checkPlacement: false)));
        app.MapPost(peer + "release", (HttpContext c, SidecarIdentity self, ActorApi actors, string type, string id) =>
            FromPeer(c, self, async () =>
            {
                await actors.ReleaseAsync(type, id, c.RequestAborted);
                c.Response.StatusCode = StatusCodes.Status204NoContent;
            }));
        app.MapMethods(peer + "reminders/{name}", ["GET", "POST", "PUT", "DELETE"], (HttpContext c, SidecarIdentity self, ActorApi actors, string type, string id, string name) =>
            FromPeer(c, self, () => ReminderAsync(c, actors, type, id, name)));
        app.MapMethods(peer + "timers/{name}", ["POST", "PUT", "DELETE"], (HttpContext c, SidecarIdentity self, ActorApi actors, string type, string id, string name) =>
            FromPeer(c, self, () => TimerAsync(c, actors, type, id, name)));
    }

    private static async Task Placed(HttpContext context, ActorApi actors, InvocationTargets targets, string type, string id, string rest, Func<Task> local)
    {
        // Read once into memory, so a call found to be placed elsewhere once it got the actor's turn can be sent on.
        context.Request.Body = new MemoryStream(await ReadBodyAsync(context.Request), writable: false);
        await actors.PlacedAsync(type, id, async () =>
        {
            await local();
            return true;
        }, async owner =>
        {
            context.Request.Body.Position = 0;
            await Invocation.ToPeerAsync(context, targets, owner, PeerProtocol.ActorPath(type, id, rest) + context.Request.QueryString,
                ex => ActorApi.HostUnreachable(type, id, owner, ex));
            return true;
        }, context.RequestAborted);
    }

    private static Task FromPeer(HttpContext context, SidecarIdentity self, Func<Task> local) =>
        Invocation.FromPeer(context, self) ? local() : Task.CompletedTask;

    private static async Task InvokeAsync(HttpContext context, ActorApi actors, string type, string id, string method, bool checkPlacement)
    {
        var body = await ReadBodyAsync(context.Request);
        var incoming = context.Request.Headers[ActorRuntime.ReentrancyHeader].ToString();
        var headers = context.Request.Headers
            .Where(h => !Invocation.Dropped.Contains(h.Key) && !h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)
                && !h.Key.Equals(ActorRuntime.ReentrancyHeader, StringComparison.OrdinalIgnoreCase))
            .Select(h => KeyValuePair.Create(h.Key, (IEnumerable<string?>)h.Value));
        using var response = await actors.InvokeAsync(type, id, method, body, context.Request.ContentType, headers,
            string.IsNullOrEmpty(incoming) ? null : incoming, checkPlacement, context.RequestAborted);
        // The app's answer goes back as it is, an error too (status, headers, body), as daprd passes an actor error on:
        // the JavaScript, Python and Java SDKs read the app's own error from it.
        await Invocation.CopyResponse(response, context);
    }

    private static async Task<IResult> GetStateAsync(ActorApi actors, string type, string id, string key, HttpResponse http, CancellationToken ct)
    {
        var item = await actors.GetStateAsync(type, id, key, ct);
        if (item is null)
        {
            return Results.NoContent();
        }
        if (item.ExpiresAt is { } expires)
        {
            http.Headers["Metadata.ttlExpireTime"] = ActorApi.ExpiryText(expires);
        }
        return Results.Bytes(item.Value, "application/json");
    }

    /// <summary>A transaction of <c>upsert</c> and <c>delete</c> operations on one actor's state, applied all or nothing.</summary>
    private static async Task<IResult> SaveStateAsync(ActorApi actors, string type, string id, HttpRequest request, CancellationToken ct)
    {
        actors.StateFor(type);
        var body = await ReadBodyAsync(request);
        List<ActorStateChange> changes = [];
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw DaprError.Malformed("the actor state transaction must be a JSON array of operations");
            }
            foreach (var element in document.RootElement.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object)
                {
                    throw DaprError.Malformed("every operation must be a JSON object with operation and request");
                }
                var operation = element.StringField("operation");
                if (!element.TryGetField("request", out var item) || item.ValueKind != JsonValueKind.Object
                    || !item.TryGetField("key", out var keyElement) || keyElement.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(keyElement.GetString()))
                {
                    throw ActorApi.KeyMissing();
                }
                var key = keyElement.GetString()!;
                changes.Add(ActorApi.OperationKind(operation) == StateOperationKind.Upsert
                    ? new ActorStateChange(StateOperationKind.Upsert, key,
                        item.TryGetField("value", out var value) ? Encoding.UTF8.GetBytes(value.GetRawText()) : null, Ttl(item))
                    : new ActorStateChange(StateOperationKind.Delete, key));
            }
        }
        catch (JsonException ex)
        {
            throw DaprError.Malformed("the actor state transaction is not valid JSON: " + ex.Message);
        }
        await actors.SaveStateAsync(type, id, changes, ct);
        return Results.NoContent();
    }

    private static int? Ttl(JsonElement item)
    {
        if (!item.TryGetField("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
            || !metadata.TryGetProperty("ttlInSeconds", out var ttl))
        {
            return null;
        }
        return ActorApi.Ttl(ttl.ValueKind switch
        {
            JsonValueKind.Number => ttl.GetRawText(),
            JsonValueKind.String => ttl.GetString(),
            _ => throw DaprError.Malformed("ttlInSeconds must be a number of seconds"),
        });
    }

    private static async Task ReminderAsync(HttpContext context, ActorApi actors, string type, string id, string name)
    {
        var ct = context.RequestAborted;
        switch (context.Request.Method)
        {
            case "GET":
                var found = await actors.GetReminderAsync(type, id, name, ct);
                // No such reminder: 200 with null, which the .NET SDK's GetReminderAsync turns into null (it throws on any error status).
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(found?.ToJsonString() ?? "null", ct);
                return;
            case "DELETE":
                await actors.DeleteReminderAsync(type, id, name, ct);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            default:
                using (var body = await ReadJsonAsync(context.Request))
                {
                    await actors.CreateReminderAsync(type, id, name, body.RootElement, ct);
                }
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
        }
    }

    private static async Task TimerAsync(HttpContext context, ActorApi actors, string type, string id, string name)
    {
        if (context.Request.Method == "DELETE")
        {
            actors.DeleteTimer(type, id, name);
        }
        else
        {
            actors.CheckTimerHost(type);
            using var body = await ReadJsonAsync(context.Request);
            actors.CreateTimer(type, id, name, body.RootElement);
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpRequest request)
    {
        var body = await ReadBodyAsync(request);
        try
        {
            return JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
        }
        catch (JsonException ex)
        {
            throw DaprError.Malformed("the body is not valid JSON: " + ex.Message);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        return buffer.ToArray();
    }
}
