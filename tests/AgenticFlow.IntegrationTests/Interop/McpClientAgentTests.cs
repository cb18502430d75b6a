using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>llm agents using the tools of an MCP server (a test server of its own, with a bearer token from the secret
/// store): the fake model is scripted to call a tool; the call runs as the agent and is recorded on its task; a tool
/// marked requiresApproval pauses the task until a person decides, through a restart of the agents service.</summary>
[Collection(InteropCollection.Name)]
public sealed class McpClientAgentTests(InteropPlatform fixture)
{
    private async Task<(string AgentId, string TeamId)> ToolUserAsync(string agentId, params string[] requiresApproval)
    {
        // Each test scripts the model from an empty script (tests of the collection run one at a time).
        fixture.Llm.Script.Clear();
        await fixture.Api.JsonAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id = agentId,
            name = agentId,
            kind = "llm",
            capabilities = new[] { new { name = "ops", proficiency = 0.9 } },
            llm = new
            {
                model = InteropPlatform.Model,
                systemPrompt = "You run operations with your tools.",
                mcpServers = new[] { new { name = "ops-tools", url = fixture.Tools.Url, tokenSecret = InteropPlatform.ToolsTokenSecret(agentId), requiresApproval } },
            },
        }, HttpStatusCode.Created);
        return (agentId, await fixture.Api.FormAsync(new { name = "ops-" + agentId, members = new[] { agentId } }));
    }

    private Task<JsonElement> AgentTaskAsync(string agentId, string taskId) => fixture.Api.JsonAsync(HttpMethod.Get, $"/api/v1/agents/{agentId}/tasks/{taskId}");

    /// <summary>The agent's view of the task once it has it (coordination hands it over just after the 202), else default.</summary>
    private async Task<string?> WorkStatusAsync(string agentId, string taskId)
    {
        using var response = await fixture.Api.SendAsync(HttpMethod.Get, $"/api/v1/agents/{agentId}/tasks/{taskId}");
        return response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString() : null;
    }

    [Fact]
    public async Task LlmAgent_CallsAnMcpTool_WithItsOwnToken_AndTheCallIsOnTheTask()
    {
        var (agentId, teamId) = await ToolUserAsync("tooluser-call");
        var city = "Oslo-" + Guid.NewGuid().ToString("N")[..4];
        fixture.Llm.Script.Enqueue($$"""tool:weather:{"city":"{{city}}"}""");
        fixture.Llm.Script.Enqueue("ok");
        var (taskId, _) = await fixture.Api.SubmitAsync(teamId, new { description = "What is the weather?" });

        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the tool-using task to complete", 120);
        var work = await AgentTaskAsync(agentId, taskId);
        var call = Assert.Single(work.GetProperty("toolCalls").EnumerateArray());
        Assert.Equal(("ops-tools", "weather", "ok"), (call.GetProperty("server").GetString(), call.GetProperty("tool").GetString(), call.GetProperty("status").GetString()));
        Assert.Equal(city, call.GetProperty("arguments").GetProperty("city").GetString());
        Assert.Contains($"sunny in {city}", call.GetProperty("resultSummary").GetString());
        Assert.True(call.GetProperty("latencyMs").GetDouble() > 0);
        // The server saw the agent's token from the secret store, and the model was given the tool's answer.
        Assert.Contains(fixture.Tools.Calls, c => c.Tool == "weather" && c.Argument == city && c.Authorization == "Bearer " + TestMcpServer.Token);
        Assert.Contains(fixture.Llm.Requests, r => r.Body.Contains($"sunny in {city}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApprovalGatedTool_PausesTheTask_ThroughARestartOfAgents_AndRunsOnlyOnceApproved()
    {
        var (agentId, teamId) = await ToolUserAsync("tooluser-approve", "purge_records");
        var table = "logs_" + Guid.NewGuid().ToString("N")[..6];
        fixture.Llm.Script.Enqueue($$"""tool:purge_records:{"table":"{{table}}"}""");
        fixture.Llm.Script.Enqueue("ok");
        var (taskId, _) = await fixture.Api.SubmitAsync(teamId, new { description = "Clean up the logs table" });

        await Eventually.True(async () => await WorkStatusAsync(agentId, taskId) == "awaiting-approval", "the task to wait for approval", 120);
        var paused = await AgentTaskAsync(agentId, taskId);
        var approval = Assert.Single(paused.GetProperty("approvals").EnumerateArray());
        Assert.Equal(("ops-tools", "purge_records"), (approval.GetProperty("server").GetString(), approval.GetProperty("tool").GetString()));
        Assert.Equal(table, approval.GetProperty("arguments").GetProperty("table").GetString());
        Assert.DoesNotContain(fixture.Tools.Calls, c => c.Argument == table);

        // The pause is durable: the agents service goes down hard and comes back, and the task still waits.
        await fixture.Platform.KillServiceAsync("agents");
        await fixture.Platform.RestartServiceAsync("agents");
        await Eventually.True(async () =>
        {
            using var response = await fixture.Api.SendAsync(HttpMethod.Get, $"/api/v1/agents/{agentId}/tasks/{taskId}");
            return response.IsSuccessStatusCode;
        }, "the agents service to answer again", 120);
        Assert.Equal("awaiting-approval", (await AgentTaskAsync(agentId, taskId)).GetProperty("status").GetString());
        Assert.NotEqual("completed", (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString());

        // A viewer (or the agent itself) may not decide; an operator may.
        using (var refused = await fixture.Api.SendAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/approvals", new { approved = true }, CoordinationClient.Viewer))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        var decided = await fixture.Api.JsonAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/approvals",
            new { approvalId = approval.GetProperty("id").GetString(), approved = true, reason = "logs are backed up" }, key: CoordinationClient.Operator);
        Assert.True(decided.GetProperty("approvals")[0].GetProperty("approved").GetBoolean());

        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the approved task to complete", 120);
        var done = await AgentTaskAsync(agentId, taskId);
        var call = Assert.Single(done.GetProperty("toolCalls").EnumerateArray());
        Assert.Equal(("purge_records", "ok"), (call.GetProperty("tool").GetString(), call.GetProperty("status").GetString()));
        Assert.Contains($"purged 42 records from {table}", call.GetProperty("resultSummary").GetString());
        Assert.Single(fixture.Tools.Calls, c => c.Argument == table);
    }

    [Fact]
    public async Task RejectedToolCall_IsNeverMade_AndTheModelIsToldSo()
    {
        var (agentId, teamId) = await ToolUserAsync("tooluser-reject", "*");
        var table = "users_" + Guid.NewGuid().ToString("N")[..6];
        fixture.Llm.Script.Enqueue($$"""tool:purge_records:{"table":"{{table}}"}""");
        fixture.Llm.Script.Enqueue("ok");
        var (taskId, _) = await fixture.Api.SubmitAsync(teamId, new { description = "Clean up the users table" });
        await Eventually.True(async () => await WorkStatusAsync(agentId, taskId) == "awaiting-approval", "the task to wait for approval", 120);

        await fixture.Api.JsonAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/approvals", new { approved = false, reason = "never purge users" }, key: CoordinationClient.Operator);
        using (var again = await fixture.Api.SendAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/approvals", new { approved = true }, CoordinationClient.Operator))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }
        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the task to complete without the tool", 120);
        var call = Assert.Single((await AgentTaskAsync(agentId, taskId)).GetProperty("toolCalls").EnumerateArray());
        Assert.Equal(("purge_records", "rejected"), (call.GetProperty("tool").GetString(), call.GetProperty("status").GetString()));
        Assert.Contains("never purge users", call.GetProperty("resultSummary").GetString());
        Assert.DoesNotContain(fixture.Tools.Calls, c => c.Argument == table);
    }

    [Fact]
    public async Task ApprovedCall_IsMadeOnce_EvenWhenTheResumedRunFailsAndIsRetried()
    {
        var (agentId, teamId) = await ToolUserAsync("tooluser-replay", "purge_records");
        var table = "audit_" + Guid.NewGuid().ToString("N")[..6];
        fixture.Llm.Script.Enqueue($$"""tool:purge_records:{"table":"{{table}}"}""");
        var (taskId, _) = await fixture.Api.SubmitAsync(teamId, new { description = "Clean up the audit table" });
        await Eventually.True(async () => await WorkStatusAsync(agentId, taskId) == "awaiting-approval", "the task to wait for approval", 120);

        // After the approved call, the model's next answer fails (the provider answers 500): the run is retried, and
        // the retry replays the approval; the tool's stored result answers it, the tool is not called again.
        fixture.Llm.Script.Enqueue("500");
        fixture.Llm.Script.Enqueue("ok");
        await fixture.Api.JsonAsync(HttpMethod.Post, $"/api/v1/agents/{agentId}/tasks/{taskId}/approvals", new { approved = true }, key: CoordinationClient.Operator);
        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the task to complete after a failed resume", 120);

        var work = await AgentTaskAsync(agentId, taskId);
        Assert.True(work.GetProperty("attempts").GetInt32() >= 1, "the resumed run failed once and was retried");
        Assert.Single(work.GetProperty("toolCalls").EnumerateArray());
        Assert.Single(fixture.Tools.Calls, c => c.Argument == table);
    }

    [Fact]
    public async Task AnotherAgentsTokenSecret_IsRefusedAtRegistration()
    {
        using var refused = await fixture.Api.SendAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id = "tooluser-thief", name = "thief", kind = "llm", capabilities = new[] { new { name = "ops", proficiency = 0.5 } },
            llm = new { systemPrompt = "x", mcpServers = new[] { new { name = "t", url = fixture.Tools.Url, tokenSecret = InteropPlatform.ToolsTokenSecret("tooluser-call") } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("mcp-tooluser-thief", await refused.Content.ReadAsStringAsync());
    }
}
