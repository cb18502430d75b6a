using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Workflows;

/// <summary>Workflow definitions and runs through the gateway, as a user drives them; side effects are counted in
/// messaging queues (invoke steps send messages to agents' queues through Dapr invocation).</summary>
public sealed class WorkflowsClient(PlatformHarness platform)
{
    public const string Operator = "dev-operator-key", Viewer = "dev-viewer-key", Admin = "dev-admin-key";

    public PlatformHarness Platform => platform;
    public CoordinationClient Coordination { get; } = new(platform);

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, string key = Operator) =>
        await platform.Client.SendAsync(platform.Request(method, path, key, body));

    public async Task<JsonElement> JsonAsync(HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK, string key = Operator)
    {
        using var response = await SendAsync(method, path, body, key);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<string> DefineAsync(object definition) =>
        (await JsonAsync(HttpMethod.Post, "/api/v1/workflows", definition, HttpStatusCode.Created)).GetProperty("id").GetString()!;

    public async Task<string> ExecuteAsync(string id, object? input = null, int? version = null) =>
        (await JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{id}/execute", new { input, version }, HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;

    public Task<JsonElement> StatusAsync(string runId) => JsonAsync(HttpMethod.Get, $"/api/v1/workflows/{runId}/status", key: Viewer);

    public async Task<JsonElement> WaitAsync(string runId, Func<JsonElement, bool> condition, string what, int seconds = 90)
    {
        JsonElement status = default;
        await Eventually.True(async () => condition(status = await StatusAsync(runId)), $"run {runId}: {what}", seconds);
        return status;
    }

    public Task<JsonElement> WaitForEndAsync(string runId, int seconds = 90) =>
        WaitAsync(runId, s => s.GetProperty("status").GetString() is "completed" or "failed" or "cancelled", "ended", seconds);

    /// <summary>Waits for the run to end while parts of the platform restart: answers other than 200 count as "not yet".</summary>
    public async Task<JsonElement> WaitForEndThroughRestartsAsync(string runId, int seconds)
    {
        JsonElement status = default;
        await Eventually.True(async () =>
        {
            using var response = await SendAsync(HttpMethod.Get, $"/api/v1/workflows/{runId}/status", key: Viewer);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            return status.GetProperty("status").GetString() is "completed" or "failed" or "cancelled";
        }, $"run {runId} to end", seconds);
        return status;
    }

    public Task<JsonElement> WaitForStepAsync(string runId, string path, string stepStatus, int seconds = 90) =>
        WaitAsync(runId, s => Step(s, path) is { } step && step.GetProperty("status").GetString() == stepStatus, $"step {path} {stepStatus}", seconds);

    public static JsonElement? Step(JsonElement status, string path) =>
        status.GetProperty("steps").EnumerateArray().Where(s => s.GetProperty("path").GetString() == path).Select(s => (JsonElement?)s).LastOrDefault();

    /// <summary>An invoke step that sends a message to <paramref name="agent"/>'s queue through messaging (a countable side effect).</summary>
    public static object Send(string id, string agent, object body, object? retry = null, object? compensate = null, string? when = null) => new
    {
        id,
        kind = "invoke",
        app = "messaging",
        method = "api/v1/messages",
        data = new { recipient = new { kind = "agent", id = agent }, priority = "normal", body },
        retry,
        compensate,
        when,
    };

    /// <summary>The bodies in an agent's queue, oldest first (leased and acknowledged, so each is read once).</summary>
    public async Task<List<JsonElement>> DrainAsync(string agent, int expected, int seconds = 60)
    {
        var bodies = new List<JsonElement>();
        await Eventually.True(async () =>
        {
            var queue = await JsonAsync(HttpMethod.Get, $"/api/v1/messages/queue/{agent}?max=100", key: Admin);
            foreach (var message in queue.GetProperty("messages").EnumerateArray())
            {
                bodies.Add(message.GetProperty("body").Clone());
                await JsonAsync(HttpMethod.Post, $"/api/v1/messages/queue/{agent}/{message.GetProperty("id").GetString()}/ack",
                    new { leaseToken = message.GetProperty("leaseToken").GetString() }, HttpStatusCode.NoContent, Admin);
            }
            return bodies.Count >= expected;
        }, $"{expected} messages for {agent}", seconds);
        return bodies;
    }

    /// <summary>Messages in an agent's queue now, without taking them.</summary>
    public async Task<int> DepthAsync(string agent) =>
        (await JsonAsync(HttpMethod.Get, $"/api/v1/messages/queue/{agent}/stats", key: Admin)).GetProperty("depth").GetInt32();
}
