using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.Gateway.Mcp;

namespace AgenticFlow.Gateway.A2a;

/// <summary>
/// A2A tasks are coordination tasks of the published team, reached through the gateway's own REST routes as the A2A
/// caller (so the caller's roles decide, as for REST). The A2A message and its context id ride in the coordination
/// task's input (<c>input.a2a</c>), so a task read back carries its context and history.
/// </summary>
public sealed class A2aTasks(GatewaySelf self)
{
    public async Task<(HttpStatusCode Status, JsonElement Body)> SubmitAsync(HttpContext caller, string teamId, JsonElement message, string text,
        List<JsonElement> data, string contextId, CancellationToken ct)
    {
        var input = new JsonObject
        {
            ["a2a"] = new JsonObject { ["contextId"] = contextId, ["message"] = JsonNode.Parse(message.GetRawText()) },
        };
        if (data.Count > 0)
        {
            input["data"] = new JsonArray(data.Select(d => JsonNode.Parse(d.GetRawText())).ToArray());
        }
        var body = new JsonObject { ["description"] = text, ["input"] = input };
        return await CallAsync(caller, HttpMethod.Post, TasksPath(teamId), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> ReadAsync(HttpContext caller, string teamId, string taskId, CancellationToken ct) =>
        CallAsync(caller, HttpMethod.Get, $"{TasksPath(teamId)}/{Uri.EscapeDataString(taskId)}", null, ct);

    public Task<(HttpStatusCode Status, JsonElement Body)> TeamAsync(HttpContext caller, string teamId, CancellationToken ct) =>
        CallAsync(caller, HttpMethod.Get, $"/api/v1/teams/{Uri.EscapeDataString(teamId)}", null, ct);

    public Task<(HttpStatusCode Status, JsonElement Body)> TeamsAsync(HttpContext caller, CancellationToken ct) =>
        CallAsync(caller, HttpMethod.Get, "/api/v1/teams?status=active", null, ct);

    private static string TasksPath(string teamId) => $"/api/v1/teams/{Uri.EscapeDataString(teamId)}/tasks";

    private async Task<(HttpStatusCode, JsonElement)> CallAsync(HttpContext caller, HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var response = await self.SendAsync(caller, method, path, content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonElement body = default;
        if (text.Length > 0)
        {
            try
            {
                body = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                body = JsonSerializer.SerializeToElement(text);
            }
        }
        return (response.StatusCode, body);
    }

    /// <summary>A coordination task as an A2A Task.</summary>
    public static JsonObject Render(JsonElement task, A2aDialect dialect, int? historyLength = null)
    {
        var id = task.GetProperty("id").GetString()!;
        var state = task.GetProperty("state").GetString()!;
        var contextId = ContextOf(task);
        var rendered = new JsonObject
        {
            ["id"] = id,
            ["contextId"] = contextId,
            ["status"] = Status(task, dialect),
        };
        if (state == "completed" && Artifact(task, dialect) is { } artifact)
        {
            rendered["artifacts"] = new JsonArray(artifact);
        }
        if (historyLength is not 0 && UserMessage(task, dialect) is { } asked)
        {
            rendered["history"] = new JsonArray(asked);
        }
        rendered["metadata"] = new JsonObject { ["teamId"] = task.GetProperty("teamId").GetString(), ["agentId"] = task.TryGetProperty("agentId", out var a) ? a.GetString() : null };
        if (dialect == A2aDialect.V03)
        {
            rendered["kind"] = "task";
        }
        return rendered;
    }

    public static string ContextOf(JsonElement task) =>
        task.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object && input.TryGetProperty("a2a", out var a2a)
        && a2a.TryGetProperty("contextId", out var context) && context.GetString() is { Length: > 0 } id ? id : task.GetProperty("id").GetString()!;

    public static JsonObject Status(JsonElement task, A2aDialect dialect)
    {
        var state = task.GetProperty("state").GetString()!;
        var status = new JsonObject { ["state"] = A2aProtocol.State(state, dialect) };
        var at = state switch
        {
            "completed" or "failed" => task.TryGetProperty("finishedAt", out var f) ? f : default,
            "running" => task.TryGetProperty("startedAt", out var s) ? s : default,
            _ => task.TryGetProperty("createdAt", out var c) ? c : default,
        };
        if (at.ValueKind == JsonValueKind.String)
        {
            status["timestamp"] = at.GetString();
        }
        if (state == "failed" && task.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
        {
            status["message"] = AgentMessage(task, [A2aProtocol.TextPart(error.GetString()!, dialect)], dialect);
        }
        return status;
    }

    /// <summary>The task's output as one artifact: its text (when the output has one) and the whole output as data.</summary>
    public static JsonObject? Artifact(JsonElement task, A2aDialect dialect)
    {
        if (!task.TryGetProperty("output", out var output) || output.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }
        var parts = new JsonArray();
        if (output.ValueKind == JsonValueKind.Object && output.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            parts.Add(A2aProtocol.TextPart(text.GetString()!, dialect));
        }
        else if (output.ValueKind == JsonValueKind.String)
        {
            parts.Add(A2aProtocol.TextPart(output.GetString()!, dialect));
        }
        parts.Add(A2aProtocol.DataPart(JsonNode.Parse(output.GetRawText()), dialect));
        return new JsonObject { ["artifactId"] = task.GetProperty("id").GetString() + "-output", ["name"] = "output", ["parts"] = parts };
    }

    private static JsonObject? UserMessage(JsonElement task, A2aDialect dialect)
    {
        if (!task.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object || !input.TryGetProperty("a2a", out var a2a)
            || !a2a.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var asked = (JsonObject)JsonNode.Parse(message.GetRawText())!;
        asked["role"] = A2aProtocol.Role(true, dialect);
        asked["taskId"] = task.GetProperty("id").GetString();
        asked["contextId"] = ContextOf(task);
        if (dialect == A2aDialect.V03)
        {
            asked["kind"] = "message";
        }
        return asked;
    }

    private static JsonObject AgentMessage(JsonElement task, JsonArray parts, A2aDialect dialect)
    {
        var message = new JsonObject
        {
            ["messageId"] = task.GetProperty("id").GetString() + "-status",
            ["role"] = A2aProtocol.Role(false, dialect),
            ["parts"] = parts,
            ["taskId"] = task.GetProperty("id").GetString(),
            ["contextId"] = ContextOf(task),
        };
        if (dialect == A2aDialect.V03)
        {
            message["kind"] = "message";
        }
        return message;
    }
}
