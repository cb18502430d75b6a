using AgenticFlow.ServiceDefaults;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapr.Client;
using AgenticFlow.Workflows.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Execution;

/// <summary>A call another service answered with an error (or could not be reached): the attempt fails with this message.</summary>
public sealed class ServiceCallException(string message) : Exception(message);

/// <summary>
/// The workflows service's calls to other apps, all through Dapr service invocation (<c>http://{app-id}/path</c>
/// goes to the sidecar's <c>/v1.0/invoke/{app-id}/method/path</c> with its API token). Such calls carry no edge
/// identity: they act as the workflows service, which Dapr access control (k8s/base/dapr) limits to the routes
/// listed in ManifestPolicyTests.ServiceCalls.
/// </summary>
public sealed class ServiceCalls(IOptions<WorkflowsOptions> options, IConfiguration configuration) : IDisposable
{
    private readonly HttpClient _http = CreateClient(configuration);

    private static HttpClient CreateClient(IConfiguration configuration)
    {
        var client = DaprInvocation.Client(configuration);
        client.Timeout = TimeSpan.FromMinutes(5);
        return client;
    }

    public void Dispose() => _http.Dispose();

    public async Task<JsonNode?> CompleteAsync(LlmCall call, CancellationToken ct)
    {
        var messages = new JsonArray();
        if (call.System is { Length: > 0 } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = call.Prompt });
        var body = new JsonObject { ["messages"] = messages, ["caller"] = "workflow:" + call.Step.DefinitionId };
        if (call.Model is { Length: > 0 } model)
        {
            body["model"] = model;
        }
        var answer = await SendAsync(HttpMethod.Post, options.Value.ProvidersAppId, "api/v1/providers/complete", body, ct);
        return answer?["text"]?.DeepClone() ?? throw new ServiceCallException("providers answered without text");
    }

    /// <summary>An invoke step's call, with an <c>Idempotency-Key</c> naming the run and step: an attempt that runs again
    /// after a crash (its result was not yet recorded) or after a timeout repeats the same key, so a target that honours
    /// the header (messaging does) applies it once.</summary>
    public Task<JsonNode?> InvokeAsync(InvokeCall call, CancellationToken ct) =>
        // Checked again at the call: the list may have shrunk since the definition was stored.
        InvokePolicy.Refusal(call.App, call.Method, options.Value.InvokeTargets) is { } refusal
            ? throw new ServiceCallException(refusal)
            : SendAsync(new HttpMethod(call.Verb), call.App, call.Method.TrimStart('/'), call.Verb is "GET" or "DELETE" ? null : call.Data, ct,
                $"{call.Step.RunId}:{call.Step.Path}");

    public async Task<(string TaskId, string TeamId)> SubmitTaskAsync(AgentTaskCall call, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["description"] = call.Description,
            ["input"] = call.Input?.DeepClone(),
        };
        if (call.RequiredCapabilities is { Count: > 0 } caps)
        {
            body["requiredCapabilities"] = new JsonArray(caps.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray());
        }
        if (call.Priority is { } priority)
        {
            body["priority"] = priority;
        }
        if (call.AffinityKey is { } affinity)
        {
            body["affinityKey"] = affinity;
        }
        // Coordination answers a repeated key with the task it created: a submit repeated after a crash (before its task
        // id was recorded) does not create a second task. One key per step attempt, so a retried step gets a new task.
        var answer = await SendAsync(HttpMethod.Post, options.Value.CoordinationAppId, $"api/v1/teams/{Uri.EscapeDataString(call.Team)}/tasks", body, ct,
            $"{call.Step.RunId}:{call.Step.Path}:{call.Step.Attempt}");
        var taskId = answer?["taskId"]?.GetValue<string>() ?? throw new ServiceCallException("coordination answered without a taskId");
        return (taskId, call.Team);
    }

    public async Task<AgentTaskState> GetTaskAsync(string teamId, string taskId, CancellationToken ct)
    {
        var task = await SendAsync(HttpMethod.Get, options.Value.CoordinationAppId, $"api/v1/teams/{Uri.EscapeDataString(teamId)}/tasks/{Uri.EscapeDataString(taskId)}", null, ct);
        return new AgentTaskState(taskId, teamId, task?["state"]?.GetValue<string>() ?? "unknown", task?["output"]?.DeepClone(), task?["error"]?.GetValue<string>(),
            task?["agentId"]?.GetValue<string>());
    }

    private async Task<JsonNode?> SendAsync(HttpMethod method, string app, string path, JsonNode? body, CancellationToken ct, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, $"http://{app}/{path}");
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ServiceCallException($"{app} could not be reached: {ex.Message}");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new ServiceCallException($"{app} {method} /{path} answered {(int)response.StatusCode}: {Shorten(text)}");
            }
            if (text.Length == 0)
            {
                return null;
            }
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                return JsonValue.Create(text);
            }
        }
    }

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "…";
}
