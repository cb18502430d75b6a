using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The actor HTTP API (<c>/v1.0/actors/{type}/{id}/...</c>): method calls (JSON or the .NET SDK's remoting form,
/// whose <c>X-DaprRequestHeader</c> and <c>X-DaprErrorResponseHeader</c> pass through unchanged), state,
/// reminders and timers. Calls for an actor placed on another sidecar are forwarded to it with the peer key.
/// </summary>
public static class ActorHttpApi
{
    public const string PeerPrefix = Invocation.PeerRoot + "actors/";

    public static void MapActorHttpApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/v1.0/actors/{type}/{id}/method/{**method}", ["GET", "POST", "PUT", "DELETE", "PATCH"], (HttpContext c, Sidecar s, string type, string id, string method) =>
            Placed(c, s, type, id, "method/" + Uri.EscapeDataString(method), () => InvokeAsync(c, s, type, id, method, checkPlacement: true)));
        app.MapGet("/v1.0/actors/{type}/{id}/state/{**key}", GetStateAsync);
        app.MapMethods("/v1.0/actors/{type}/{id}/state", ["PUT", "POST"], SaveStateAsync);
        app.MapMethods("/v1.0/actors/{type}/{id}/reminders/{name}", ["GET", "POST", "PUT", "DELETE"], (HttpContext c, Sidecar s, string type, string id, string name) =>
            Placed(c, s, type, id, "reminders/" + Uri.EscapeDataString(name), () => ReminderAsync(c, s, type, id, name)));
        app.MapMethods("/v1.0/actors/{type}/{id}/timers/{name}", ["POST", "PUT", "DELETE"], (HttpContext c, Sidecar s, string type, string id, string name) =>
            Placed(c, s, type, id, "timers/" + Uri.EscapeDataString(name), () => TimerAsync(c, s, type, id, name)));

        // Forwarded by the sidecar that received the call; served here whatever this sidecar thinks of placement,
        // so a call never bounces between two sidecars that briefly disagree.
        app.MapMethods(PeerPrefix + "{type}/{id}/method/{**method}", ["GET", "POST", "PUT", "DELETE", "PATCH"], (HttpContext c, Sidecar s, string type, string id, string method) =>
            FromPeer(c, s, () => InvokeAsync(c, s, type, id, method, checkPlacement: false)));
        app.MapPost(PeerPrefix + "{type}/{id}/release", (HttpContext c, Sidecar s, string type, string id) =>
            FromPeer(c, s, async () =>
            {
                await s.Actors.ReleaseAsync(type, id, c.RequestAborted);
                c.Response.StatusCode = StatusCodes.Status204NoContent;
            }));
        app.MapMethods(PeerPrefix + "{type}/{id}/reminders/{name}", ["GET", "POST", "PUT", "DELETE"], (HttpContext c, Sidecar s, string type, string id, string name) =>
            FromPeer(c, s, () => ReminderAsync(c, s, type, id, name)));
        app.MapMethods(PeerPrefix + "{type}/{id}/timers/{name}", ["POST", "PUT", "DELETE"], (HttpContext c, Sidecar s, string type, string id, string name) =>
            FromPeer(c, s, () => TimerAsync(c, s, type, id, name)));
    }

    private static async Task Placed(HttpContext context, Sidecar sidecar, string type, string id, string rest, Func<Task> local)
    {
        // Read once into memory, so a call found to be placed elsewhere once it got the actor's turn can be sent on.
        context.Request.Body = new MemoryStream(await ReadBodyAsync(context.Request), writable: false);
        var owner = await sidecar.Actors.RemoteOwnerAsync(type, id, context.RequestAborted);
        if (owner is null)
        {
            try
            {
                await local();
                return;
            }
            catch (ActorMovedException)
            {
                context.Request.Body.Position = 0;
                owner = await sidecar.Actors.RemoteOwnerAsync(type, id, context.RequestAborted)
                    ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_ACTOR_INSTANCE_MISSING",
                        $"actor {type}/{id} is being handed over between sidecars; try again");
            }
        }
        await Invocation.ToPeerAsync(context, sidecar, owner, $"{PeerPrefix}{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(id)}/{rest}{context.Request.QueryString}",
            ex => new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_ACTOR_INVOKE_METHOD",
                $"error invoke actor method: the sidecar hosting {type}/{id} ({owner.Identity}) is not reachable: {ex.Message}"));
    }

    private static Task FromPeer(HttpContext context, Sidecar sidecar, Func<Task> local) =>
        Invocation.FromPeer(context, sidecar) ? local() : Task.CompletedTask;

    private static async Task InvokeAsync(HttpContext context, Sidecar sidecar, string type, string id, string method, bool checkPlacement)
    {
        var body = await ReadBodyAsync(context.Request);
        var incoming = context.Request.Headers[ActorRuntime.ReentrancyHeader].ToString();
        using var response = await sidecar.Actors.CallAppAsync(type, id, string.IsNullOrEmpty(incoming) ? null : incoming, _ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, ActorRuntime.AppPath(type, id, "method/" + Uri.EscapeDataString(method)))
            {
                Content = AppChannel.Bytes(body, context.Request.ContentType ?? "application/json"),
            };
            foreach (var (name, values) in context.Request.Headers)
            {
                if (!Invocation.Dropped.Contains(name) && !name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)
                    && !name.Equals(ActorRuntime.ReentrancyHeader, StringComparison.OrdinalIgnoreCase))
                {
                    request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                }
            }
            return request;
        }, checkPlacement, context.RequestAborted);
        // The app's answer goes back as it is, an error too (status, headers, body), as daprd passes an actor error on:
        // the JavaScript, Python and Java SDKs read the app's own error from it.
        await Invocation.CopyResponse(response, context);
    }

    private static async Task<IResult> GetStateAsync(Sidecar sidecar, string type, string id, string key, HttpResponse http, CancellationToken ct)
    {
        CheckHosted(sidecar, type);
        var item = await Sidecar.StateCall("ERR_ACTOR_STATE_GET", () => sidecar.Actors.StateStore().GetAsync(sidecar.Actors.StateKey(type, id, key), ct));
        if (item is null)
        {
            return Results.NoContent();
        }
        if (item.ExpiresAt is { } expires)
        {
            http.Headers["Metadata.ttlExpireTime"] = expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        }
        return Results.Bytes(item.Value, "application/json");
    }

    /// <summary>A transaction of <c>upsert</c> and <c>delete</c> operations on one actor's state, applied all or nothing.</summary>
    private static async Task<IResult> SaveStateAsync(Sidecar sidecar, string type, string id, HttpRequest request, CancellationToken ct)
    {
        var store = sidecar.Actors.StateStore();
        CheckHosted(sidecar, type);
        var body = await ReadBodyAsync(request);
        List<StateOperation> operations = [];
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
                    throw DaprError.Malformed("every operation needs a request with a non-empty key");
                }
                var key = sidecar.Actors.StateKey(type, id, keyElement.GetString()!);
                operations.Add(operation?.ToLowerInvariant() switch
                {
                    "upsert" => new StateOperation(StateOperationKind.Upsert, key,
                        item.TryGetField("value", out var value) ? Encoding.UTF8.GetBytes(value.GetRawText()) : "null"u8.ToArray(),
                        TtlSeconds: Ttl(item)),
                    "delete" => new StateOperation(StateOperationKind.Delete, key),
                    _ => throw DaprError.Malformed($"unknown actor state operation '{operation}' (upsert or delete)"),
                });
            }
        }
        catch (JsonException ex)
        {
            throw DaprError.Malformed("the actor state transaction is not valid JSON: " + ex.Message);
        }
        await Sidecar.StateCall("ERR_ACTOR_STATE_TRANSACTION_SAVE", async () =>
        {
            await store.ExecuteAsync(operations, ct);
            return true;
        });
        return Results.NoContent();
    }

    private static int? Ttl(JsonElement item)
    {
        if (!item.TryGetField("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
            || !metadata.TryGetProperty("ttlInSeconds", out var ttl))
        {
            return null;
        }
        var text = ttl.ValueKind switch
        {
            JsonValueKind.Number => ttl.GetRawText(),
            JsonValueKind.String => ttl.GetString(),
            _ => throw DaprError.Malformed("ttlInSeconds must be a number of seconds"),
        };
        return int.TryParse(text, out var seconds) && seconds >= -1
            ? seconds
            : throw DaprError.Malformed($"ttlInSeconds '{text}' must be a whole number of seconds (-1 for none)");
    }

    private static async Task ReminderAsync(HttpContext context, Sidecar sidecar, string type, string id, string name)
    {
        var reminders = sidecar.Actors.Reminders;
        var ct = context.RequestAborted;
        switch (context.Request.Method)
        {
            case "GET":
                var found = await Sidecar.StateCall("ERR_ACTOR_REMINDER_GET", () => reminders.GetAsync(type, id, name, ct));
                // No such reminder: 200 with null, which the .NET SDK's GetReminderAsync turns into null (it throws on any error status).
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(found?.ToJsonString() ?? "null", ct);
                return;
            case "DELETE":
                await Sidecar.StateCall("ERR_ACTOR_REMINDER_DELETE", async () =>
                {
                    await reminders.DeleteAsync(type, id, name, ct);
                    return true;
                });
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            default:
                using (var body = await ReadJsonAsync(context.Request))
                {
                    var root = body.RootElement;
                    ActorSchedule.Parse(root, DateTimeOffset.UtcNow, requireCallback: false);
                    await Sidecar.StateCall("ERR_ACTOR_REMINDER_CREATE", async () =>
                    {
                        await reminders.CreateAsync(type, id, name, root, ct);
                        return true;
                    });
                }
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
        }
    }

    private static async Task TimerAsync(HttpContext context, Sidecar sidecar, string type, string id, string name)
    {
        if (!sidecar.Actors.Hosts(type))
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_ACTOR_TIMER_CREATE", $"app {sidecar.Options.AppId} does not host actor type {type}");
        }
        if (context.Request.Method == "DELETE")
        {
            sidecar.Actors.DeleteTimer(type, id, name);
        }
        else
        {
            using var body = await ReadJsonAsync(context.Request);
            sidecar.Actors.CreateTimer(type, id, name, body.RootElement);
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Actor state is the hosting app's: a sidecar whose app does not host the type refuses it, as daprd does.</summary>
    private static void CheckHosted(Sidecar sidecar, string type)
    {
        if (!sidecar.Actors.Hosts(type))
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_ACTOR_INSTANCE_MISSING",
                $"app {sidecar.Options.AppId} does not host actor type {type}, so it holds no state for it");
        }
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
