using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.Gateway.A2a;

/// <summary>
/// The two JSON shapes of the Agent2Agent protocol that clients speak: the 1.0 specification's (PascalCase methods
/// such as <c>SendMessage</c>, <c>TASK_STATE_*</c> and <c>ROLE_*</c> enums, parts without a kind, stream events wrapped
/// as <c>{"statusUpdate": …}</c>) and 0.3's (<c>message/send</c>, lower-case states, parts and results with a
/// <c>kind</c>). A request's method name says which one it speaks; the answer is in the same one.
/// </summary>
public enum A2aDialect { V1, V03 }

public enum A2aOperation { Send, Stream, Get, Cancel }

public static class A2aProtocol
{
    public const string ProtocolVersion = "1.0";
    public const string LegacyProtocolVersion = "0.3.0";

    // JSON-RPC 2.0 and A2A error codes (specification, "Error Code Mappings").
    public const int ParseError = -32700, InvalidRequest = -32600, MethodNotFound = -32601, InvalidParams = -32602, InternalError = -32603,
        TaskNotFound = -32001, TaskNotCancelable = -32002, UnsupportedOperation = -32004, ContentTypeNotSupported = -32005;

    public static bool TryMethod(string method, out A2aOperation operation, out A2aDialect dialect)
    {
        (operation, dialect) = method switch
        {
            "SendMessage" => (A2aOperation.Send, A2aDialect.V1),
            "SendStreamingMessage" => (A2aOperation.Stream, A2aDialect.V1),
            "GetTask" => (A2aOperation.Get, A2aDialect.V1),
            "CancelTask" => (A2aOperation.Cancel, A2aDialect.V1),
            "message/send" => (A2aOperation.Send, A2aDialect.V03),
            "message/stream" => (A2aOperation.Stream, A2aDialect.V03),
            "tasks/get" => (A2aOperation.Get, A2aDialect.V03),
            "tasks/cancel" => (A2aOperation.Cancel, A2aDialect.V03),
            _ => ((A2aOperation)(-1), A2aDialect.V1),
        };
        return (int)operation >= 0;
    }

    /// <summary>Coordination's task states as A2A task states.</summary>
    public static string State(string coordinationState, A2aDialect dialect)
    {
        var state = coordinationState switch
        {
            "pending" or "assigned" => "submitted",
            "running" => "working",
            "completed" => "completed",
            "failed" => "failed",
            _ => "unknown",
        };
        return dialect == A2aDialect.V1 ? "TASK_STATE_" + state.ToUpperInvariant() : state;
    }

    public static bool IsTerminal(string coordinationState) => coordinationState is "completed" or "failed";

    public static JsonObject TextPart(string text, A2aDialect dialect) =>
        dialect == A2aDialect.V1 ? new JsonObject { ["text"] = text } : new JsonObject { ["kind"] = "text", ["text"] = text };

    public static JsonObject DataPart(JsonNode? data, A2aDialect dialect) =>
        dialect == A2aDialect.V1 ? new JsonObject { ["data"] = data } : new JsonObject { ["kind"] = "data", ["data"] = data };

    public static string Role(bool user, A2aDialect dialect) => dialect == A2aDialect.V1 ? (user ? "ROLE_USER" : "ROLE_AGENT") : (user ? "user" : "agent");

    /// <summary>A JSON-RPC success answer.</summary>
    public static JsonObject Result(JsonNode? id, JsonNode result) => new() { ["jsonrpc"] = "2.0", ["id"] = id?.DeepClone(), ["result"] = result };

    /// <summary>A JSON-RPC error answer.</summary>
    public static JsonObject Error(JsonNode? id, int code, string message, JsonNode? data = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        if (data is not null)
        {
            error["data"] = data;
        }
        return new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id?.DeepClone(), ["error"] = error };
    }

    /// <summary>What a client's message asks: its text (the task's description) and its data parts, in either dialect.</summary>
    public static bool TryReadMessage(JsonElement message, out string text, out List<JsonElement> data, out string? problem)
    {
        text = "";
        data = [];
        problem = null;
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("parts", out var parts) || parts.ValueKind != JsonValueKind.Array || parts.GetArrayLength() == 0)
        {
            problem = "params.message.parts must be a non-empty array";
            return false;
        }
        if (!message.TryGetProperty("messageId", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 })
        {
            problem = "params.message.messageId is required";
            return false;
        }
        var texts = new List<string>();
        foreach (var part in parts.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object)
            {
                problem = "each part must be an object";
                return false;
            }
            if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                texts.Add(t.GetString()!);
            }
            else if (part.TryGetProperty("data", out var d))
            {
                data.Add(d.Clone());
            }
            else
            {
                problem = "only text and data parts are accepted (file parts are not)";
                return false;
            }
        }
        text = string.Join("\n", texts);
        if (text.Length == 0 && data.Count == 0)
        {
            problem = "the message has no content";
            return false;
        }
        if (text.Length == 0)
        {
            text = "Structured request (see input).";
        }
        return true;
    }
}
