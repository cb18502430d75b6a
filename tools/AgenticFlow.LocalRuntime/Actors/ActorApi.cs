using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.State;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>One change of an actor state transaction, as either wire reads it.</summary>
public sealed record ActorStateChange(StateOperationKind Kind, string Key, byte[]? Value = null, int? TtlSeconds = null);

/// <summary>
/// The actor building block as the wire adapters use it (daprd's universal actor API): placement, method calls,
/// state, reminders and timers of this sidecar's actors. It knows nothing of the HTTP or gRPC API: both adapters
/// translate their requests into these calls, and only the passing on of a call to the sidecar that hosts the actor
/// is theirs (each forwards in its own form).
/// </summary>
public sealed class ActorApi(ActorRuntime runtime, string appId, TimeProvider time)
{
    public ActorRuntime Runtime => runtime;

    /// <summary>
    /// Runs <paramref name="local"/> when the actor is placed here, else <paramref name="remote"/> with its host. A
    /// call found to be placed elsewhere once it got the actor's turn (<see cref="ActorMovedException"/>) goes to the new host.
    /// </summary>
    public async Task<T> PlacedAsync<T>(string type, string id, Func<Task<T>> local, Func<SidecarAddress, Task<T>> remote, CancellationToken ct)
    {
        var owner = await runtime.RemoteOwnerAsync(type, id, ct);
        if (owner is null)
        {
            try
            {
                return await local();
            }
            catch (ActorMovedException)
            {
                owner = await runtime.RemoteOwnerAsync(type, id, ct)
                    ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_ACTOR_INSTANCE_MISSING",
                        $"actor {type}/{id} is being handed over between sidecars; try again");
            }
        }
        return await remote(owner);
    }

    /// <summary>What a caller is told when the sidecar hosting the actor cannot be reached.</summary>
    public static DaprError HostUnreachable(string type, string id, SidecarAddress owner, Exception cause) =>
        new(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_ACTOR_INVOKE_METHOD",
            $"error invoke actor method: the sidecar hosting {type}/{id} ({owner.Identity}) is not reachable: {cause.Message}");

    /// <summary>
    /// Calls <paramref name="method"/> of an actor hosted here (<c>PUT /actors/{type}/{id}/method/{method}</c> on the
    /// app), in the actor's turn; the app's answer comes back as it is, an error too.
    /// </summary>
    public Task<HttpResponseMessage> InvokeAsync(string type, string id, string method, byte[] body, string? contentType,
        IEnumerable<KeyValuePair<string, IEnumerable<string?>>> headers, string? reentrancyId, bool checkPlacement, CancellationToken ct) =>
        runtime.CallAppAsync(type, id, reentrancyId, _ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, ActorRuntime.AppPath(type, id, "method/" + Uri.EscapeDataString(method)))
            {
                Content = AppChannel.Bytes(body, contentType ?? "application/json"),
            };
            foreach (var (name, values) in headers)
            {
                HeaderValues.Add(request, name, values);
            }
            return request;
        }, checkPlacement, ct);

    /// <summary>Another host is about to activate the actor: it lets go of it here, after its running turn.</summary>
    public Task ReleaseAsync(string type, string id, CancellationToken ct) => runtime.ReleaseAsync(type, id, ct);

    // ---- state ----

    /// <summary>The actor state store, for a type this sidecar's app hosts (see <see cref="CheckHosted"/>).</summary>
    public IStateStore StateFor(string type)
    {
        var store = runtime.StateStore();
        CheckHosted(type);
        return store;
    }

    /// <summary>Actor state is the hosting app's: a sidecar whose app does not host the type refuses it, as daprd does.</summary>
    private void CheckHosted(string type)
    {
        if (!runtime.Hosts(type))
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_ACTOR_INSTANCE_MISSING",
                $"app {appId} does not host actor type {type}, so it holds no state for it");
        }
    }

    /// <summary>When an item with a TTL expires, in the form daprd reports it (<c>Metadata.ttlExpireTime</c>).</summary>
    public static string ExpiryText(DateTimeOffset expires) =>
        expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public Task<StateItem?> GetStateAsync(string type, string id, string key, CancellationToken ct)
    {
        CheckHosted(type);
        return StateApi.Call("ERR_ACTOR_STATE_GET", () => runtime.StateStore().GetAsync(runtime.StateKey(type, id, key), ct));
    }

    /// <summary>Applies upserts and deletes of one actor's state all or nothing.</summary>
    public Task SaveStateAsync(string type, string id, IReadOnlyList<ActorStateChange> changes, CancellationToken ct)
    {
        var store = StateFor(type);
        var operations = changes.Select(c => c.Kind == StateOperationKind.Upsert
            ? new StateOperation(StateOperationKind.Upsert, runtime.StateKey(type, id, c.Key), c.Value ?? "null"u8.ToArray(), TtlSeconds: c.TtlSeconds)
            : new StateOperation(StateOperationKind.Delete, runtime.StateKey(type, id, c.Key))).ToList();
        return StateApi.Call("ERR_ACTOR_STATE_TRANSACTION_SAVE", () => store.ExecuteAsync(operations, ct));
    }

    /// <summary>The kind of one transaction operation: <c>upsert</c> or <c>delete</c>, in any case.</summary>
    public static StateOperationKind OperationKind(string? operation) => operation?.ToLowerInvariant() switch
    {
        "upsert" => StateOperationKind.Upsert,
        "delete" => StateOperationKind.Delete,
        _ => throw DaprError.Malformed($"unknown actor state operation '{operation}' (upsert or delete)"),
    };

    /// <summary>The <c>ttlInSeconds</c> of an upsert: a whole number of seconds, -1 for none.</summary>
    public static int? Ttl(string? text) =>
        text is null ? null
        : int.TryParse(text, out var seconds) && seconds >= -1 ? seconds
        : throw DaprError.Malformed($"ttlInSeconds '{text}' must be a whole number of seconds (-1 for none)");

    public static DaprError KeyMissing() => DaprError.Malformed("every operation needs a request with a non-empty key");

    // ---- reminders ----

    /// <summary>The reminder as registered, or null when there is none.</summary>
    public Task<JsonObject?> GetReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        var reminders = runtime.Reminders;
        return StateApi.Call("ERR_ACTOR_REMINDER_GET", () => reminders.GetAsync(type, id, name, ct));
    }

    /// <summary>Creates or replaces a reminder from its definition (<c>dueTime</c>, <c>period</c>, <c>ttl</c>, <c>data</c>).</summary>
    public Task CreateReminderAsync(string type, string id, string name, JsonElement definition, CancellationToken ct)
    {
        var reminders = runtime.Reminders;
        ActorSchedule.Parse(definition, time.GetUtcNow(), requireCallback: false);
        return StateApi.Call("ERR_ACTOR_REMINDER_CREATE", () => reminders.CreateAsync(type, id, name, definition, ct));
    }

    public Task DeleteReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        var reminders = runtime.Reminders;
        return StateApi.Call("ERR_ACTOR_REMINDER_DELETE", () => reminders.DeleteAsync(type, id, name, ct));
    }

    // ---- timers ----

    /// <summary>Starts or replaces a timer (<c>dueTime</c>, <c>period</c>, <c>ttl</c>, <c>callback</c>, <c>data</c>) of an actor hosted here.</summary>
    public void CreateTimer(string type, string id, string name, JsonElement definition)
    {
        CheckTimerHost(type);
        runtime.CreateTimer(type, id, name, definition);
    }

    public void DeleteTimer(string type, string id, string name)
    {
        CheckTimerHost(type);
        runtime.DeleteTimer(type, id, name);
    }

    /// <summary>Timers run in the activation, so only a sidecar whose app hosts the type takes them.</summary>
    public void CheckTimerHost(string type)
    {
        if (!runtime.Hosts(type))
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_ACTOR_TIMER_CREATE", $"app {appId} does not host actor type {type}");
        }
    }
}
