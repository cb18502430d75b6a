using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ActorRuntime = AgenticFlow.LocalRuntime.Actors.ActorRuntime;
using AgenticFlow.LocalRuntime.Hosting;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The actor methods of the gRPC Dapr service, for SDKs that call actors over gRPC (Go, and others' gRPC
/// clients). Each one is translated into the same call on this sidecar's own HTTP actor API, so placement,
/// forwarding, turn locks, validation and errors are exactly the HTTP ones.
/// </summary>
public sealed partial class DaprGrpcService
{
    public async Task<InvokeActorResponse> InvokeActor(InvokeActorRequest request, ServerCallContext context)
    {
        var body = request.Data.ToByteArray();
        using var call = Self(HttpMethod.Put, request.ActorType, request.ActorId, "method/" + Uri.EscapeDataString(Required(request.Method, "method")));
        call.Content = AppChannel.Bytes(body, "application/json");
        foreach (var (key, value) in request.Metadata)
        {
            call.Headers.TryAddWithoutValidation(key, value);
        }
        var reentrancy = context.RequestHeaders.GetValue(ActorRuntime.ReentrancyHeader.ToLowerInvariant());
        if (reentrancy is not null)
        {
            call.Headers.TryAddWithoutValidation(ActorRuntime.ReentrancyHeader, reentrancy);
        }
        return new InvokeActorResponse { Data = ByteString.CopyFrom(await SendAsync(call, context.CancellationToken)) };
    }

    public async Task<GetActorStateResponse> GetActorState(GetActorStateRequest request, ServerCallContext context)
    {
        using var call = Self(HttpMethod.Get, request.ActorType, request.ActorId, "state/" + Uri.EscapeDataString(Required(request.Key, "key")));
        var (data, headers) = await SendWithHeadersAsync(call, context.CancellationToken);
        var response = new GetActorStateResponse { Data = ByteString.CopyFrom(data) };
        if (headers.TryGetValues("Metadata.ttlExpireTime", out var expires))
        {
            response.Metadata["ttlExpireTime"] = expires.First();
        }
        return response;
    }

    public async Task<Empty> ExecuteActorStateTransaction(ExecuteActorStateTransactionRequest request, ServerCallContext context)
    {
        var operations = new JsonArray();
        foreach (var op in request.Operations)
        {
            var item = new JsonObject { ["key"] = op.Key };
            if (op.Value is not null)
            {
                // The value travels as the bytes of an Any; stored as JSON when it is JSON, else as a JSON string.
                item["value"] = AsJson(op.Value.Value.ToByteArray());
            }
            if (op.Metadata.Count > 0)
            {
                item["metadata"] = new JsonObject(op.Metadata.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)JsonValue.Create(m.Value))));
            }
            operations.Add(new JsonObject { ["operation"] = op.OperationType, ["request"] = item });
        }
        using var call = Self(HttpMethod.Post, request.ActorType, request.ActorId, "state");
        call.Content = AppChannel.Bytes(Encoding.UTF8.GetBytes(operations.ToJsonString()), "application/json");
        await SendAsync(call, context.CancellationToken);
        return new Empty();
    }

    public Task<Empty> RegisterActorTimer(RegisterActorTimerRequest request, ServerCallContext context)
    {
        var body = Schedule(request.DueTime, request.Period, request.Ttl, request.Data);
        body["callback"] = request.Callback;
        return ScheduleCallAsync(HttpMethod.Put, request.ActorType, request.ActorId, "timers", request.Name, body, context);
    }

    public Task<Empty> UnregisterActorTimer(UnregisterActorTimerRequest request, ServerCallContext context) =>
        ScheduleCallAsync(HttpMethod.Delete, request.ActorType, request.ActorId, "timers", request.Name, null, context);

    public Task<Empty> RegisterActorReminder(RegisterActorReminderRequest request, ServerCallContext context) =>
        ScheduleCallAsync(HttpMethod.Put, request.ActorType, request.ActorId, "reminders", request.Name, Schedule(request.DueTime, request.Period, request.Ttl, request.Data), context);

    public Task<Empty> UnregisterActorReminder(UnregisterActorReminderRequest request, ServerCallContext context) =>
        ScheduleCallAsync(HttpMethod.Delete, request.ActorType, request.ActorId, "reminders", request.Name, null, context);

    /// <summary>Creates (with a body) or deletes a timer or reminder through the HTTP actor API.</summary>
    private async Task<Empty> ScheduleCallAsync(HttpMethod method, string type, string id, string kind, string name, JsonObject? body, ServerCallContext context)
    {
        using var call = Self(method, type, id, kind + "/" + Uri.EscapeDataString(Required(name, "name")));
        if (body is not null)
        {
            call.Content = AppChannel.Bytes(Encoding.UTF8.GetBytes(body.ToJsonString()), "application/json");
        }
        await SendAsync(call, context.CancellationToken);
        return new Empty();
    }

    public async Task<GetActorReminderResponse> GetActorReminder(GetActorReminderRequest request, ServerCallContext context)
    {
        using var call = Self(HttpMethod.Get, request.ActorType, request.ActorId, "reminders/" + Uri.EscapeDataString(Required(request.Name, "name")));
        using var found = JsonDocument.Parse(await SendAsync(call, context.CancellationToken));
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

    private static string Required(string value, string name) =>
        string.IsNullOrEmpty(value) ? throw DaprError.Malformed($"{name} is required") : value;

    private HttpRequestMessage Self(HttpMethod method, string type, string id, string rest)
    {
        Required(type, "actor_type");
        Required(id, "actor_id");
        var request = new HttpRequestMessage(method, $"http://127.0.0.1:{sidecar.Options.HttpPort}/v1.0/actors/{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(id)}/{rest}");
        if (sidecar.Options.DaprApiToken is { } token)
        {
            request.Headers.TryAddWithoutValidation(AppChannel.TokenHeader, token);
        }
        return request;
    }

    private async Task<byte[]> SendAsync(HttpRequestMessage request, CancellationToken ct) => (await SendWithHeadersAsync(request, ct)).Body;

    private async Task<(byte[] Body, HttpResponseHeaders Headers)> SendWithHeadersAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var response = await sidecar.PeerClient().SendAsync(request, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        if (response.IsSuccessStatusCode)
        {
            return (body, response.Headers);
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
        throw new DaprError(response.StatusCode, response.StatusCode switch
        {
            HttpStatusCode.BadRequest => StatusCode.InvalidArgument,
            HttpStatusCode.NotFound => StatusCode.NotFound,
            HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
            HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
            _ => StatusCode.Internal,
        }, code, message);
    }
}
