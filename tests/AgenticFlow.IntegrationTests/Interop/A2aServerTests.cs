using System.Net;
using System.Text.Json;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>
/// Conformance of the gateway's A2A server, built from the specification's examples (1.0's "Basic Task Execution" and
/// "Streaming Task Execution", 0.3's "Basic Execution" and "Streaming Task Execution (SSE)"), its error code table, and
/// its agent card fields, with a published team of one llm agent on the fake model answering.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class A2aServerTests(InteropPlatform fixture)
{
    private const string Operator = "dev-operator-key";
    private A2aTestClient Client(string key = Operator) => new(fixture.Platform.Client, key);

    private async Task<(string TeamId, string Endpoint)> PublishedTeamAsync(string version = "1.0")
    {
        var teamId = await fixture.LlmTeamAsync("a2a-" + Guid.NewGuid().ToString("N")[..8], "a2a-answer");
        var (status, card) = await Client().CardAsync($"/a2a/teams/{teamId}/.well-known/agent-card.json", version == "1.0" ? null : version);
        Assert.Equal(HttpStatusCode.OK, status);
        return (teamId, new Uri(A2aTestClient.Endpoint(card)).PathAndQuery);
    }

    [Fact]
    public async Task AgentCard_HasTheFieldsTheSpecificationRequires_InBothVersions_AndTheIndexListsIt()
    {
        var teamId = await fixture.LlmTeamAsync("a2a-" + Guid.NewGuid().ToString("N")[..8], "a2a-card");
        var cardPath = $"/a2a/teams/{teamId}/.well-known/agent-card.json";

        var (status, card) = await Client().CardAsync(cardPath);
        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var field in new[] { "name", "description", "supportedInterfaces", "version", "capabilities", "defaultInputModes", "defaultOutputModes", "skills" })
        {
            Assert.True(card.TryGetProperty(field, out _), "1.0 card lacks " + field);
        }
        var jsonRpc = card.GetProperty("supportedInterfaces")[0];
        Assert.Equal(("JSONRPC", "1.0"), (jsonRpc.GetProperty("protocolBinding").GetString(), jsonRpc.GetProperty("protocolVersion").GetString()));
        Assert.EndsWith($"/a2a/teams/{teamId}", jsonRpc.GetProperty("url").GetString());
        Assert.True(card.GetProperty("capabilities").GetProperty("streaming").GetBoolean());
        var skill = Assert.Single(card.GetProperty("skills").EnumerateArray());
        Assert.Equal("a2a-card", skill.GetProperty("id").GetString());
        Assert.True(skill.TryGetProperty("name", out _) && skill.TryGetProperty("description", out _) && skill.GetProperty("tags").GetArrayLength() > 0);
        Assert.Equal("X-Api-Key", card.GetProperty("securitySchemes").GetProperty("apiKey").GetProperty("apiKeySecurityScheme").GetProperty("name").GetString());

        var (_, legacy) = await Client().CardAsync(cardPath, "0.3");
        Assert.Equal("0.3.0", legacy.GetProperty("protocolVersion").GetString());
        Assert.Equal("JSONRPC", legacy.GetProperty("preferredTransport").GetString());
        Assert.EndsWith($"/a2a/teams/{teamId}", legacy.GetProperty("url").GetString());

        var (_, index) = await Client("dev-viewer-key").CardAsync("/.well-known/agent-card.json");
        Assert.Contains(index.GetProperty("agents").EnumerateArray(), a => a.GetProperty("agentCardUrl").GetString()!.EndsWith(cardPath, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Unauthorized, (await new A2aTestClient(fixture.Platform.Client, "not-a-key").CardAsync(cardPath)).Status);
    }

    [Fact]
    public async Task MessageSend_V03Example_AnswersACompletedTaskWithArtifactAndHistory_AndTasksGetReadsIt()
    {
        var (_, endpoint) = await PublishedTeamAsync("0.3");
        // The 0.3 specification's "Basic Execution" request, as written there.
        var (status, answer) = await Client().CallAsync(endpoint, """
            {"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","parts":[{"kind":"text","text":"tell me a joke"}],"messageId":"9229e770-767c-417b-a0b0-f0741243c589"},"metadata":{}}}
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("2.0", 1), (answer.GetProperty("jsonrpc").GetString(), answer.GetProperty("id").GetInt32()));
        var task = answer.GetProperty("result");
        Assert.Equal("task", task.GetProperty("kind").GetString());
        Assert.Equal("completed", task.GetProperty("status").GetProperty("state").GetString());
        var part = task.GetProperty("artifacts")[0].GetProperty("parts")[0];
        Assert.Equal(("text", "Done: three points."), (part.GetProperty("kind").GetString(), part.GetProperty("text").GetString()));
        var asked = task.GetProperty("history")[0];
        Assert.Equal(("user", "9229e770-767c-417b-a0b0-f0741243c589"), (asked.GetProperty("role").GetString(), asked.GetProperty("messageId").GetString()));
        Assert.Equal(task.GetProperty("id").GetString(), asked.GetProperty("taskId").GetString());
        Assert.Equal(task.GetProperty("contextId").GetString(), asked.GetProperty("contextId").GetString());

        var (_, read) = await Client().CallAsync(endpoint, "tasks/get", new { id = task.GetProperty("id").GetString() }, 2);
        Assert.Equal("completed", read.GetProperty("result").GetProperty("status").GetProperty("state").GetString());
        Assert.Equal(task.GetProperty("contextId").GetString(), read.GetProperty("result").GetProperty("contextId").GetString());
        // A finished task cannot be canceled (TaskNotCancelableError).
        var (_, cancel) = await Client().CallAsync(endpoint, "tasks/cancel", new { id = task.GetProperty("id").GetString() }, 3);
        Assert.Equal(-32002, cancel.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task SendMessage_V1Example_AnswersATaskInTheV1Shape()
    {
        var (_, endpoint) = await PublishedTeamAsync();
        // The 1.0 specification's "Basic Task Execution" message, in its JSON-RPC binding.
        var (status, answer) = await Client().CallAsync(endpoint, """
            {"jsonrpc":"2.0","id":"r-1","method":"SendMessage","params":{"message":{"role":"ROLE_USER","parts":[{"text":"What is the weather today?"}],"messageId":"msg-uuid","contextId":"context-uuid"}}}
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("r-1", answer.GetProperty("id").GetString());
        var task = answer.GetProperty("result").GetProperty("task");
        Assert.Equal("TASK_STATE_COMPLETED", task.GetProperty("status").GetProperty("state").GetString());
        Assert.Equal("context-uuid", task.GetProperty("contextId").GetString());
        var part = task.GetProperty("artifacts")[0].GetProperty("parts")[0];
        Assert.Equal("Done: three points.", part.GetProperty("text").GetString());
        Assert.False(part.TryGetProperty("kind", out _));
        Assert.Equal("ROLE_USER", task.GetProperty("history")[0].GetProperty("role").GetString());

        var (_, read) = await Client().CallAsync(endpoint, "GetTask", new { id = task.GetProperty("id").GetString(), historyLength = 0 });
        Assert.Equal("TASK_STATE_COMPLETED", read.GetProperty("result").GetProperty("status").GetProperty("state").GetString());
        Assert.False(read.GetProperty("result").TryGetProperty("history", out _));
    }

    [Fact]
    public async Task MessageStream_SendsTheTask_ThenItsArtifact_ThenAFinalCompletedStatus_InBothVersions()
    {
        var (_, endpoint) = await PublishedTeamAsync("0.3");
        fixture.Llm.Script.Enqueue("slow:300");
        var legacy = await Client().StreamAsync(endpoint, "message/stream", new
        {
            message = new { role = "user", parts = new object[] { new { kind = "text", text = "write a long paper" }, new { kind = "data", data = new { pages = 3 } } }, messageId = "bbb7dee1" },
        });
        Assert.All(legacy, e => Assert.Equal("s-1", e.GetProperty("id").GetString()));
        var results = legacy.Select(e => e.GetProperty("result")).ToList();
        Assert.Equal("task", results[0].GetProperty("kind").GetString());
        Assert.Contains(results[0].GetProperty("status").GetProperty("state").GetString(), new[] { "submitted", "working" });
        var artifact = Assert.Single(results, r => r.GetProperty("kind").GetString() == "artifact-update");
        Assert.Equal("Done: three points.", artifact.GetProperty("artifact").GetProperty("parts")[0].GetProperty("text").GetString());
        var last = results[^1];
        Assert.Equal(("status-update", "completed", true), (last.GetProperty("kind").GetString(), last.GetProperty("status").GetProperty("state").GetString(), last.GetProperty("final").GetBoolean()));
        Assert.All(results.Take(results.Count - 1).Where(r => r.GetProperty("kind").GetString() == "status-update"), r => Assert.False(r.GetProperty("final").GetBoolean()));

        var v1 = await Client().StreamAsync(endpoint, "SendStreamingMessage", new { message = new { role = "ROLE_USER", parts = new[] { new { text = "Write a detailed report" } }, messageId = "msg-uuid" } });
        var events = v1.Select(e => e.GetProperty("result")).ToList();
        Assert.True(events[0].TryGetProperty("task", out _));
        Assert.Contains(events, e => e.TryGetProperty("artifactUpdate", out var a) && a.GetProperty("artifact").GetProperty("parts")[0].GetProperty("text").GetString() == "Done: three points.");
        Assert.Equal("TASK_STATE_COMPLETED", events[^1].GetProperty("statusUpdate").GetProperty("status").GetProperty("state").GetString());
    }

    [Fact]
    public async Task Errors_FollowTheJsonRpcAndA2aCodeTables_AndRolesStillApply()
    {
        var (teamId, endpoint) = await PublishedTeamAsync();
        async Task<int> Code(string body) => (await Client().CallAsync(endpoint, body)).Answer.GetProperty("error").GetProperty("code").GetInt32();

        Assert.Equal(-32700, await Code("{not json"));
        Assert.Equal(-32600, await Code("""{"id":1,"method":"SendMessage","params":{}}"""));
        Assert.Equal(-32601, await Code("""{"jsonrpc":"2.0","id":1,"method":"tasks/teleport","params":{}}"""));
        Assert.Equal(-32602, await Code("""{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","parts":[],"messageId":"m"}}}"""));
        Assert.Equal(-32602, await Code("""{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","parts":[{"kind":"file","file":{"uri":"https://x/y.png"}}],"messageId":"m"}}}"""));
        Assert.Equal(-32001, await Code("""{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"no-such-task"}}"""));
        Assert.Equal(-32001, await Code("""{"jsonrpc":"2.0","id":1,"method":"CancelTask","params":{"id":"no-such-task"}}"""));

        // A viewer may read the card but not give the team work: the task route's policy refuses it, and nothing is stored.
        var (status, refused) = await Client("dev-viewer-key").CallAsync(endpoint, "SendMessage", new { message = new { role = "ROLE_USER", parts = new[] { new { text = "hi" } }, messageId = "v-1" } });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("https://agenticflow.dev/problems/forbidden", refused.GetProperty("error").GetProperty("data").GetProperty("type").GetString());
        var tasks = await fixture.Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks");
        Assert.Equal(0, tasks.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task CardUrls_ComeFromTheConfiguredPublicBaseUrl_NotAForgedHostHeader()
    {
        var teamId = await fixture.LlmTeamAsync("a2a-" + Guid.NewGuid().ToString("N")[..8], "a2a-host");
        foreach (var path in new[] { $"/a2a/teams/{teamId}/.well-known/agent-card.json", "/.well-known/agent-card.json" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Api-Key", Operator);
            request.Headers.Host = "evil.example.net:666";
            request.Headers.Add("X-Forwarded-Host", "evil.example.net");
            using var response = await fixture.Platform.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.DoesNotContain("evil.example.net", text);
            Assert.Contains($"{InteropPlatform.PublicBaseUrl}/a2a/teams/{teamId}", text);
        }
        var (_, card) = await Client().CardAsync($"/a2a/teams/{teamId}/.well-known/agent-card.json");
        Assert.Equal($"{InteropPlatform.PublicBaseUrl}/a2a/teams/{teamId}", A2aTestClient.Endpoint(card));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("1e300")]
    [InlineData("4294967296")]
    [InlineData("-1")]
    [InlineData("\"3\"")]
    public async Task GetTask_WithAHistoryLengthThatIsNoNonNegativeInteger_IsInvalidParams(string historyLength)
    {
        var (teamId, endpoint) = await PublishedTeamAsync();
        var (_, sent) = await Client().CallAsync(endpoint, "SendMessage", new { message = new { role = "ROLE_USER", parts = new[] { new { text = "hi" } }, messageId = "h-" + Guid.NewGuid().ToString("N")[..6] } });
        var taskId = sent.GetProperty("result").GetProperty("task").GetProperty("id").GetString();
        foreach (var method in new[] { "GetTask", "tasks/get" })
        {
            var (status, answer) = await Client().CallAsync(endpoint, $$$"""{"jsonrpc":"2.0","id":7,"method":"{{{method}}}","params":{"id":"{{{taskId}}}","historyLength":{{{historyLength}}}}}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(-32602, answer.GetProperty("error").GetProperty("code").GetInt32());
            Assert.Equal(7, answer.GetProperty("id").GetInt32());
        }
        // A valid one still reads the task.
        var (_, read) = await Client().CallAsync(endpoint, "GetTask", new { id = taskId, historyLength = 0 }, 8);
        Assert.Equal(taskId, read.GetProperty("result").GetProperty("id").GetString());
        var (_, whole) = await Client().CallAsync(endpoint, $$$"""{"jsonrpc":"2.0","id":9,"method":"GetTask","params":{"id":"{{{taskId}}}","historyLength":2.0}}""");
        Assert.Equal(taskId, whole.GetProperty("result").GetProperty("id").GetString());
        Assert.NotNull(teamId);
    }
}
