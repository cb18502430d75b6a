using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.Gateway.A2a;

/// <summary>One A2A JSON-RPC call on a team's endpoint: send (blocking or not), stream (SSE), get, cancel.</summary>
public sealed class A2aExchange(HttpContext http, A2aTasks tasks, A2aOptions options, TimeProvider time, string teamId, JsonNode? id, A2aDialect dialect)
{
    private CancellationToken Ct => http.RequestAborted;

    public async Task SendAsync(JsonElement parameters, bool stream)
    {
        string? problem = "params.message is required";
        var text = "";
        List<JsonElement> data = [];
        if (!parameters.TryGetProperty("message", out var message) || !A2aProtocol.TryReadMessage(message, out text, out data, out problem))
        {
            await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidParams, "Invalid params: " + problem));
            return;
        }
        if (message.TryGetProperty("taskId", out var continued) && continued.ValueKind == JsonValueKind.String)
        {
            await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.UnsupportedOperation,
                "Continuing a task is not supported: each message starts a new task of the team (send it without taskId, with the same contextId)"));
            return;
        }
        var contextId = message.TryGetProperty("contextId", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() is { Length: > 0 } given ? given : Guid.NewGuid().ToString();
        var (status, accepted) = await tasks.SubmitAsync(http, teamId, message, text, data, contextId, Ct);
        if (status != HttpStatusCode.Accepted)
        {
            await RefusedAsync(status, accepted);
            return;
        }
        var taskId = accepted.GetProperty("taskId").GetString()!;
        if (stream)
        {
            await StreamAsync(taskId);
            return;
        }
        var configuration = parameters.TryGetProperty("configuration", out var conf) && conf.ValueKind == JsonValueKind.Object ? conf : default;
        var returnAtOnce = dialect == A2aDialect.V1
            ? configuration.ValueKind == JsonValueKind.Object && configuration.TryGetProperty("returnImmediately", out var r) && r.ValueKind == JsonValueKind.True
            : configuration.ValueKind == JsonValueKind.Object && configuration.TryGetProperty("blocking", out var b) && b.ValueKind == JsonValueKind.False;
        var wait = returnAtOnce ? TimeSpan.Zero : TimeSpan.FromSeconds(options.SendWaitSeconds);
        JsonElement last = default;
        var found = await FollowAsync(taskId, wait, task =>
        {
            last = task;
            return Task.CompletedTask;
        });
        if (!found)
        {
            return;
        }
        var rendered = A2aTasks.Render(last, dialect);
        await A2aEndpoints.WriteAsync(http, A2aProtocol.Result(id, dialect == A2aDialect.V1 ? new JsonObject { ["task"] = rendered } : rendered));
    }

    public async Task GetAsync(JsonElement parameters)
    {
        if (!parameters.TryGetProperty("id", out var taskId) || taskId.ValueKind != JsonValueKind.String || taskId.GetString() is not { Length: > 0 })
        {
            await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidParams, "Invalid params: params.id (the task id) is required"));
            return;
        }
        int? history = null;
        if (parameters.TryGetProperty("historyLength", out var h) && h.ValueKind != JsonValueKind.Null)
        {
            // A fraction, a negative or a number past Int32 is the client's error, answered as such (not a crash).
            if (!JsonArguments.TryInteger(h, 0, int.MaxValue, out var length))
            {
                await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidParams, "Invalid params: params.historyLength is a non-negative integer"));
                return;
            }
            history = length;
        }
        var (status, task) = await tasks.ReadAsync(http, teamId, taskId.GetString()!, Ct);
        if (status != HttpStatusCode.OK)
        {
            await RefusedAsync(status, task);
            return;
        }
        await A2aEndpoints.WriteAsync(http, A2aProtocol.Result(id, A2aTasks.Render(task, dialect, history)));
    }

    public async Task CancelAsync(JsonElement parameters)
    {
        if (!parameters.TryGetProperty("id", out var taskId) || taskId.ValueKind != JsonValueKind.String || taskId.GetString() is not { Length: > 0 })
        {
            await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidParams, "Invalid params: params.id (the task id) is required"));
            return;
        }
        var (status, task) = await tasks.ReadAsync(http, teamId, taskId.GetString()!, Ct);
        if (status != HttpStatusCode.OK)
        {
            await RefusedAsync(status, task);
            return;
        }
        await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.TaskNotCancelable, "Task cannot be canceled: a team's tasks run to completion or failure"));
    }

    /// <summary>The task as it was accepted, then a status update at each change, and at its end its output as an
    /// artifact and a final status update.</summary>
    private async Task StreamAsync(string taskId)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        string? lastState = null;
        var first = true;
        await FollowAsync(taskId, TimeSpan.FromSeconds(options.StreamSeconds), async task =>
        {
            var state = task.GetProperty("state").GetString()!;
            var terminal = A2aProtocol.IsTerminal(state);
            if (first)
            {
                first = false;
                var initial = A2aTasks.Render(task, dialect);
                if (terminal)
                {
                    // Finished before the stream began: the task as it is now, then its end as events.
                    initial["status"] = new JsonObject { ["state"] = A2aProtocol.State("running", dialect) };
                    initial.Remove("artifacts");
                }
                await EventAsync(dialect == A2aDialect.V1 ? new JsonObject { ["task"] = initial } : initial);
                lastState = terminal ? "running" : state;
            }
            if (state == lastState)
            {
                return;
            }
            lastState = state;
            if (terminal && state == "completed" && A2aTasks.Artifact(task, dialect) is { } artifact)
            {
                var update = new JsonObject { ["taskId"] = taskId, ["contextId"] = A2aTasks.ContextOf(task), ["artifact"] = artifact, ["append"] = false, ["lastChunk"] = true };
                await EventAsync(Wrap("artifactUpdate", "artifact-update", update));
            }
            var change = new JsonObject { ["taskId"] = taskId, ["contextId"] = A2aTasks.ContextOf(task), ["status"] = A2aTasks.Status(task, dialect) };
            if (dialect == A2aDialect.V03)
            {
                change["final"] = terminal;
            }
            await EventAsync(Wrap("statusUpdate", "status-update", change));
        });
    }

    private JsonObject Wrap(string v1Name, string v03Kind, JsonObject payload)
    {
        if (dialect == A2aDialect.V1)
        {
            return new JsonObject { [v1Name] = payload };
        }
        payload["kind"] = v03Kind;
        return payload;
    }

    private async Task EventAsync(JsonObject result)
    {
        await http.Response.WriteAsync("data: " + A2aProtocol.Result(id, result).ToJsonString() + "\n\n", Ct);
        await http.Response.Body.FlushAsync(Ct);
    }

    /// <summary>Reads the task (as the caller) until it ends or the time is up, handing each read on; the interval
    /// between reads grows from 50 ms to 500 ms. False (with the error written) when the task cannot be read.</summary>
    private async Task<bool> FollowAsync(string taskId, TimeSpan wait, Func<JsonElement, Task> seen)
    {
        var deadline = time.GetUtcNow() + wait;
        var interval = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var (status, task) = await tasks.ReadAsync(http, teamId, taskId, Ct);
            if (status != HttpStatusCode.OK)
            {
                if (!http.Response.HasStarted)
                {
                    await RefusedAsync(status, task);
                }
                return false;
            }
            await seen(task);
            var left = deadline - time.GetUtcNow();
            if (A2aProtocol.IsTerminal(task.GetProperty("state").GetString()!) || left <= TimeSpan.Zero)
            {
                return true;
            }
            await Task.Delay(interval < left ? interval : left, time, Ct);
            interval = TimeSpan.FromMilliseconds(Math.Min(interval.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>A refusal of the REST call behind the A2A call: its problem as the JSON-RPC error's data. Bad input
    /// is an invalid-params error; an unknown task is A2A's TaskNotFoundError; a refused caller keeps its HTTP status.</summary>
    private async Task RefusedAsync(HttpStatusCode status, JsonElement problem)
    {
        var data = problem.ValueKind == JsonValueKind.Undefined ? null : JsonNode.Parse(problem.GetRawText());
        var detail = problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
        var (code, message) = status switch
        {
            HttpStatusCode.BadRequest => (A2aProtocol.InvalidParams, "Invalid params: " + detail),
            HttpStatusCode.NotFound => (A2aProtocol.TaskNotFound, "Not found: " + detail),
            _ => (A2aProtocol.InternalError, $"The platform answered {(int)status}: {detail}"),
        };
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError)
        {
            http.Response.StatusCode = (int)status;
        }
        await A2aEndpoints.WriteAsync(http, A2aProtocol.Error(id, code, message, data));
    }
}
