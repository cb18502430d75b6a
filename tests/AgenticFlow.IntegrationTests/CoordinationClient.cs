using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>Agents, teams, tasks and votes through the gateway, as a user of the platform drives them; external agents
/// are played by the test: they take their work from their messaging queue and answer through the public API.</summary>
public sealed class CoordinationClient(PlatformHarness platform, string apiKey = "dev-admin-key")
{
    public const string Admin = "dev-admin-key", Operator = "dev-operator-key", Viewer = "dev-viewer-key";

    public PlatformHarness Platform => platform;

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, string? key = null) =>
        await platform.Client.SendAsync(platform.Request(method, path, key ?? apiKey, body));

    public async Task<JsonElement> JsonAsync(HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK, string? key = null)
    {
        using var response = await SendAsync(method, path, body, key);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Registers an external agent (unless told otherwise) with the given capabilities and concurrency.</summary>
    public Task<JsonElement> RegisterAsync(string id, int maxConcurrentTasks = 10, string kind = "external", params (string Name, double Proficiency)[] capabilities) =>
        JsonAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id,
            name = id,
            kind,
            capabilities = (capabilities.Length == 0 ? new[] { (Name: "general", Proficiency: 0.5) } : capabilities).Select(c => new { name = c.Name, proficiency = c.Proficiency }),
            maxConcurrentTasks,
            labels = new Dictionary<string, string> { ["suite"] = "coordination" },
            llm = kind == "llm" ? new { systemPrompt = "You are a careful worker." } : null,
        }, HttpStatusCode.Created);

    public async Task<string> FormAsync(object team)
    {
        var formed = await JsonAsync(HttpMethod.Post, "/api/v1/teams", team, HttpStatusCode.Created);
        Assert.Equal("active", formed.GetProperty("status").GetString());
        return formed.GetProperty("id").GetString()!;
    }

    public async Task<(string TaskId, string? AgentId)> SubmitAsync(string teamId, object? task = null)
    {
        var accepted = await JsonAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", task ?? new { description = "summarise the report", input = new { doc = 42 } }, HttpStatusCode.Accepted);
        return (accepted.GetProperty("taskId").GetString()!, accepted.GetProperty("agentId").GetString());
    }

    public Task<JsonElement> TaskAsync(string teamId, string taskId) => JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks/{taskId}");

    public Task<JsonElement> StatusAsync(string teamId) => JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/status");

    public Task<JsonElement> RoundAsync(string roundId) => JsonAsync(HttpMethod.Get, $"/api/v1/coordination/consensus/{roundId}");

    /// <summary>The work of <paramref name="type"/> (task.assigned, vote.requested) waiting in an external agent's queue, acknowledged.</summary>
    public async Task<List<JsonElement>> TakeWorkAsync(string agentId, string type, int atLeast = 1, int seconds = 60)
    {
        var found = new List<JsonElement>();
        await Eventually.True(async () =>
        {
            var queue = await JsonAsync(HttpMethod.Get, $"/api/v1/messages/queue/{agentId}?max=100&waitSeconds=1");
            foreach (var message in queue.GetProperty("messages").EnumerateArray())
            {
                var body = message.GetProperty("body");
                if (body.TryGetProperty("type", out var t) && t.GetString() == type)
                {
                    found.Add(body.Clone());
                }
                await JsonAsync(HttpMethod.Post, $"/api/v1/messages/queue/{agentId}/{message.GetProperty("id").GetString()}/ack",
                    new { leaseToken = message.GetProperty("leaseToken").GetString() }, HttpStatusCode.NoContent);
            }
            return found.Count >= atLeast;
        }, $"{atLeast} {type} for {agentId}", seconds);
        return found;
    }

    /// <summary>An external agent's answer to a task, through the agents service's public endpoint.</summary>
    public Task<HttpResponseMessage> ReportAsync(string agentId, string taskId, string status = "completed", object? output = null) =>
        SendAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/result", new { status, output = output ?? new { summary = $"done by {agentId}" } });

    public async Task<JsonElement> WaitForTaskAsync(string teamId, string taskId, Func<JsonElement, bool> condition, string what, int seconds = 60)
    {
        JsonElement task = default;
        await Eventually.True(async () => condition(task = await TaskAsync(teamId, taskId)), what, seconds);
        return task;
    }

    public async Task<JsonElement> WaitForRoundAsync(string roundId, int seconds = 60)
    {
        JsonElement round = default;
        await Eventually.True(async () => (round = await RoundAsync(roundId)).GetProperty("status").GetString() == "closed", $"round {roundId} closed", seconds);
        return round;
    }

    public Task<HttpResponseMessage> VoteAsync(string roundId, string agentId, string choice, string? key = null, double? weight = null) =>
        SendAsync(HttpMethod.Post, $"/api/v1/coordination/consensus/{roundId}/votes", new { agentId, choice, reason = $"{agentId} thinks {choice}", weight }, key);
}
