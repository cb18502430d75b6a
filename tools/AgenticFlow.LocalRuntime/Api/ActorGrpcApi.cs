using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.State;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ActorRuntime = AgenticFlow.LocalRuntime.Actors.ActorRuntime;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The actor methods of the gRPC Dapr service, for SDKs that call actors over gRPC (Go, and others' gRPC clients),
/// over <see cref="ActorApi"/> like the HTTP actor API. A call for an actor placed on another sidecar goes to that
/// sidecar's peer actor path, as the HTTP API forwards it.
/// </summary>
public sealed partial class DaprGrpcService
{
    public async Task<InvokeActorResponse> InvokeActor(InvokeActorRequest request, ServerCallContext context)
    {
        var method = Required(request.Method, "method");
        var (type, id) = Actor(request.ActorType, request.ActorId);
        var body = request.Data.ToByteArray();
        var reentrancy = context.RequestHeaders.GetValue(ActorRuntime.ReentrancyHeader.ToLowerInvariant());
        var headers = request.Metadata.Where(m => !Invocation.Dropped.Contains(m.Key) && !m.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)
                && !m.Key.Equals(ActorRuntime.ReentrancyHeader, StringComparison.OrdinalIgnoreCase))
            .Select(m => KeyValuePair.Create(m.Key, (IEnumerable<string?>)[m.Value])).ToList();
        foreach (var (name, values) in headers)
        {
            HeaderValues.Check(name, values);
        }
        var data = await actors.PlacedAsync(type, id, async () =>
        {
            using var answer = await actors.InvokeAsync(type, id, method, body, "application/json", headers, reentrancy, checkPlacement: true, context.CancellationToken);
            return await ReadAnswerAsync(answer, context.CancellationToken);
        }, owner => ToHostAsync(owner, HttpMethod.Put, type, id, "method/" + Uri.EscapeDataString(method), body, headers, reentrancy, context), context.CancellationToken);
        return new InvokeActorResponse { Data = ByteString.CopyFrom(data) };
    }

    public async Task<GetActorStateResponse> GetActorState(GetActorStateRequest request, ServerCallContext context)
    {
        var key = Required(request.Key, "key");
        var (type, id) = Actor(request.ActorType, request.ActorId);
        var item = await actors.GetStateAsync(type, id, key, context.CancellationToken);
        var response = new GetActorStateResponse { Data = item is null ? ByteString.Empty : ByteString.CopyFrom(item.Value) };
        if (item?.ExpiresAt is { } expires)
        {
            response.Metadata["ttlExpireTime"] = ActorApi.ExpiryText(expires);
        }
        return response;
    }

    public async Task<Empty> ExecuteActorStateTransaction(ExecuteActorStateTransactionRequest request, ServerCallContext context)
    {
        var (type, id) = Actor(request.ActorType, request.ActorId);
        actors.StateFor(type);
        var changes = request.Operations.Select(op =>
        {
            if (string.IsNullOrEmpty(op.Key))
            {
                throw ActorApi.KeyMissing();
            }
            return ActorApi.OperationKind(op.OperationType) == StateOperationKind.Upsert
                // The value travels as the bytes of an Any; stored as JSON when it is JSON, else as a JSON string.
                ? new ActorStateChange(StateOperationKind.Upsert, op.Key, op.Value is null ? null : AsJsonBytes(op.Value.Value.ToByteArray()),
                    ActorApi.Ttl(op.Metadata.TryGetValue("ttlInSeconds", out var ttl) ? ttl : null))
                : new ActorStateChange(StateOperationKind.Delete, op.Key);
        }).ToList();
        await actors.SaveStateAsync(type, id, changes, context.CancellationToken);
        return new Empty();
    }

    public Task<Empty> RegisterActorTimer(RegisterActorTimerRequest request, ServerCallContext context)
    {
        var definition = Schedule(request.DueTime, request.Period, request.Ttl, request.Data);
        definition["callback"] = request.Callback;
        return ScheduleAsync(request.ActorType, request.ActorId, "timers/", request.Name, definition, (type, id, name) =>
        {
            using var parsed = JsonDocument.Parse(definition.ToJsonString());
            actors.CreateTimer(type, id, name, parsed.RootElement);
            return Task.CompletedTask;
        }, context);
    }

    public Task<Empty> UnregisterActorTimer(UnregisterActorTimerRequest request, ServerCallContext context) =>
        ScheduleAsync(request.ActorType, request.ActorId, "timers/", request.Name, null, (type, id, name) =>
        {
            actors.DeleteTimer(type, id, name);
            return Task.CompletedTask;
        }, context);

    public Task<Empty> RegisterActorReminder(RegisterActorReminderRequest request, ServerCallContext context)
    {
        var definition = Schedule(request.DueTime, request.Period, request.Ttl, request.Data);
        return ScheduleAsync(request.ActorType, request.ActorId, "reminders/", request.Name, definition, async (type, id, name) =>
        {
            using var parsed = JsonDocument.Parse(definition.ToJsonString());
            await actors.CreateReminderAsync(type, id, name, parsed.RootElement, context.CancellationToken);
        }, context);
    }

    public Task<Empty> UnregisterActorReminder(UnregisterActorReminderRequest request, ServerCallContext context) =>
        ScheduleAsync(request.ActorType, request.ActorId, "reminders/", request.Name, null,
            (type, id, name) => actors.DeleteReminderAsync(type, id, name, context.CancellationToken), context);

    /// <summary>Creates (with a <paramref name="definition"/>) or deletes a timer or reminder: here when the actor is
    /// placed here, else on its host's peer path.</summary>
    private async Task<Empty> ScheduleAsync(string actorType, string actorId, string kind, string name, JsonObject? definition,
        Func<string, string, string, Task> local, ServerCallContext context)
    {
        Required(name, "name");
        var (type, id) = Actor(actorType, actorId);
        await actors.PlacedAsync(type, id, async () =>
        {
            await local(type, id, name);
            return true;
        }, async owner =>
        {
            var body = definition is null ? null : Encoding.UTF8.GetBytes(definition.ToJsonString());
            await ToHostAsync(owner, definition is null ? HttpMethod.Delete : HttpMethod.Put, type, id, kind + Uri.EscapeDataString(name), body, [], null, context);
            return true;
        }, context.CancellationToken);
        return new Empty();
    }

    public async Task<GetActorReminderResponse> GetActorReminder(GetActorReminderRequest request, ServerCallContext context)
    {
        var name = Required(request.Name, "name");
        var (type, id) = Actor(request.ActorType, request.ActorId);
        var json = await actors.PlacedAsync(type, id,
            async () => Encoding.UTF8.GetBytes((await actors.GetReminderAsync(type, id, name, context.CancellationToken))?.ToJsonString() ?? "null"),
            owner => ToHostAsync(owner, HttpMethod.Get, type, id, "reminders/" + Uri.EscapeDataString(name), null, [], null, context), context.CancellationToken);
        using var found = JsonDocument.Parse(json);
        if (found.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new DaprError(HttpStatusCode.NotFound, StatusCode.NotFound, "ERR_ACTOR_REMINDER_GET", $"reminder {request.Name} of actor {request.ActorType}/{request.ActorId} not found");
        }
        var response = new GetActorReminderResponse { ActorType = request.ActorType, ActorId = request.ActorId };
        if (found.RootElement.TryGetProperty("dueTime", out var due) && due.GetString() is { Length: > 0 } dueText)
        {
            response.DueTime = dueText;
        }
        if (found.RootElement.TryGetProperty("period", out var period) && period.GetString() is { Length: > 0 } periodText)
        {
            response.Period = periodText;
        }
        if (found.RootElement.TryGetProperty("data", out var data) && data.ValueKind != JsonValueKind.Null)
        {
            response.Data = new Any { Value = ByteString.CopyFromUtf8(data.GetRawText()) };
        }
        return response;
    }

    private static JsonObject Schedule(string dueTime, string period, string ttl, ByteString data)
    {
        var body = new JsonObject();
        if (!string.IsNullOrEmpty(dueTime))
        {
            body["dueTime"] = dueTime;
        }
        if (!string.IsNullOrEmpty(period))
        {
            body["period"] = period;
        }
        if (!string.IsNullOrEmpty(ttl))
        {
            body["ttl"] = ttl;
        }
        if (!data.IsEmpty)
        {
            body["data"] = AsJson(data.ToByteArray());
        }
        return body;
    }

    /// <summary>Bytes that are JSON stay JSON; anything else becomes a base64 JSON string, as daprd stores them.</summary>
    private static JsonNode? AsJson(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(bytes);
        }
        catch (JsonException)
        {
            return JsonValue.Create(Convert.ToBase64String(bytes));
        }
    }

    /// <summary>A state value as stored: JSON written compactly, anything else as a base64 JSON string.</summary>
    private static byte[] AsJsonBytes(byte[] bytes) => Encoding.UTF8.GetBytes(AsJson(bytes)?.ToJsonString() ?? "null");

    private static string Required(string value, string name) =>
        string.IsNullOrEmpty(value) ? throw DaprError.Malformed($"{name} is required") : value;

    private static (string Type, string Id) Actor(string type, string id) => (Required(type, "actor_type"), Required(id, "actor_id"));

    /// <summary>Sends the call to the peer actor path of the sidecar hosting the actor; its answer's body, or its error.</summary>
    private async Task<byte[]> ToHostAsync(SidecarAddress owner, HttpMethod method, string type, string id, string rest, byte[]? body,
        IEnumerable<KeyValuePair<string, IEnumerable<string?>>> headers, string? reentrancy, ServerCallContext context)
    {
        using var request = new HttpRequestMessage(method, $"http://127.0.0.1:{owner.HttpPort}{PeerProtocol.ActorPath(type, id, rest)}");
        if (body is not null)
        {
            request.Content = AppChannel.Bytes(body, "application/json");
        }
        foreach (var (name, values) in headers)
        {
            HeaderValues.Add(request, name, values);
        }
        if (reentrancy is not null)
        {
            request.Headers.TryAddWithoutValidation(ActorRuntime.ReentrancyHeader, reentrancy);
        }
        request.Headers.TryAddWithoutValidation(PeerProtocol.KeyHeader, owner.PeerKey);
        HttpResponseMessage response;
        try
        {
            response = await targets.PeerClient().SendAsync(request, context.CancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw ActorApi.HostUnreachable(type, id, owner, ex);
        }
        using (response)
        {
            if (response.Headers.Contains(PeerProtocol.RefusedHeader))
            {
                // The host was started again since it was looked up, with a new key: the next lookup reads its new entry.
                targets.ForgetPeers();
                throw ActorApi.HostUnreachable(type, id, owner, new HttpRequestException($"the sidecar {owner.Identity} was restarted; retry"));
            }
            return await ReadAnswerAsync(response, context.CancellationToken);
        }
    }

    /// <summary>The body of a successful answer (the app's, or a host sidecar's); an error answer becomes a
    /// <see cref="DaprError"/> with its <c>errorCode</c> and <c>message</c> when it has daprd's shape, else its text.</summary>
    private static async Task<byte[]> ReadAnswerAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        if (response.IsSuccessStatusCode)
        {
            return body;
        }
        string code = "ERR_ACTOR_INVOKE_METHOD", message = Encoding.UTF8.GetString(body);
        try
        {
            using var error = JsonDocument.Parse(body);
            code = error.RootElement.GetProperty("errorCode").GetString() ?? code;
            message = error.RootElement.GetProperty("message").GetString() ?? message;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Not daprd's error shape: the raw text is the message.
        }
        throw new DaprError(response.StatusCode, GrpcStatusFor(response.StatusCode), code, message);
    }

    /// <summary>
    /// The gRPC status of an actor call's error follows its HTTP status (400 invalid argument, 404 not found, 401, 403,
    /// anything else internal), as it did when these calls went through the HTTP actor API; kept so gRPC clients see no change.
    /// </summary>
    private static StatusCode GrpcStatusFor(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => StatusCode.InvalidArgument,
        HttpStatusCode.NotFound => StatusCode.NotFound,
        HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
        _ => StatusCode.Internal,
    };

    /// <summary>Runs one actor method, its errors with the gRPC status <see cref="GrpcStatusFor"/> gives.</summary>
    internal static async Task<T> ActorCallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (DaprError error)
        {
            throw AsGrpcRouted(error);
        }
    }

    private static DaprError AsGrpcRouted(DaprError error) => new(error.HttpStatus, GrpcStatusFor(error.HttpStatus), error.ErrorCode, error.Message);
}
