using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>The gateway's MCP server, driven by the ModelContextProtocol package's client as any MCP host would:
/// every tool listed and called through the gateway, with the REST routes' roles applying to each call.</summary>
[Collection(InteropCollection.Name)]
public sealed class McpServerTests(InteropPlatform fixture)
{
    private const string Admin = "dev-admin-key", Viewer = "dev-viewer-key", AgentA2 = "dev-agent-a2-key";

    private static readonly string[] Expected = ["register_agent", "find_agents", "submit_task", "get_task", "store_memory", "query_memory", "send_message", "start_workflow", "get_workflow_status"];

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    private static JsonElement Json(CallToolResult result)
    {
        Assert.False(result.IsError == true, "tool error: " + Text(result));
        return JsonDocument.Parse(Text(result)).RootElement.Clone();
    }

    private static Dictionary<string, object?> Args(object args) =>
        JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(args))!;

    [Fact]
    public async Task ListTools_NamesEveryCapability_WithTheRestRequestSchemas()
    {
        await using var client = await fixture.McpAsync(Viewer);
        var tools = await client.ListToolsAsync();
        Assert.Equal(Expected.Order(), tools.Select(t => t.Name).Order());

        var register = tools.Single(t => t.Name == "register_agent").JsonSchema;
        Assert.Equal(["capabilities", "kind", "name"], register.GetProperty("required").EnumerateArray().Select(r => r.GetString()).Order());
        Assert.True(register.GetProperty("properties").TryGetProperty("maxConcurrentTasks", out _));
        var submit = tools.Single(t => t.Name == "submit_task").JsonSchema.GetProperty("properties");
        Assert.True(submit.TryGetProperty("teamId", out _) && submit.TryGetProperty("requiredCapabilities", out _) && submit.TryGetProperty("affinityKey", out _));
    }

    [Fact]
    public async Task EveryTool_CalledThroughTheGateway_DoesWhatItsRestCallDoes()
    {
        await using var client = await fixture.McpAsync(Admin);
        var agentId = "mcp-" + Guid.NewGuid().ToString("N")[..8];

        var registered = Json(await client.CallToolAsync("register_agent", Args(new
        {
            id = agentId, name = "MCP writer", kind = "llm", capabilities = new[] { new { name = "mcp-summarise", proficiency = 0.9 } },
            llm = new { model = InteropPlatform.Model, systemPrompt = "You summarise." },
        })));
        Assert.Equal(agentId, registered.GetProperty("id").GetString());

        var found = Json(await client.CallToolAsync("find_agents", Args(new { capability = "mcp-summarise", limit = 10 })));
        Assert.Contains(found.GetProperty("items").EnumerateArray(), a => a.GetProperty("id").GetString() == agentId);

        var teamId = await fixture.Api.FormAsync(new { name = "mcp-team", members = new[] { agentId } });
        var task = Json(await client.CallToolAsync("submit_task", Args(new { teamId, description = "Summarise the MCP report", input = new { doc = 7 }, waitSeconds = 120 })));
        Assert.Equal("completed", task.GetProperty("state").GetString());
        Assert.Equal(agentId, task.GetProperty("agentId").GetString());
        Assert.Contains("three points", task.GetProperty("output").GetRawText());

        var read = Json(await client.CallToolAsync("get_task", Args(new { teamId, taskId = task.GetProperty("id").GetString() })));
        Assert.Equal("completed", read.GetProperty("state").GetString());

        var stored = Json(await client.CallToolAsync("store_memory", Args(new { agentId, kind = "fact", content = "The MCP gateway answers tools on /mcp.", tags = new[] { "mcp" } })));
        Assert.StartsWith("mem_", stored.GetProperty("id").GetString());
        var hits = Json(await client.CallToolAsync("query_memory", Args(new { text = "which path serves MCP tools?", agentId, mode = "keyword", topK = 3 })));
        Assert.Contains(hits.GetProperty("results").EnumerateArray(), h => h.GetProperty("memory").GetProperty("id").GetString() == stored.GetProperty("id").GetString());

        var sent = Json(await client.CallToolAsync("send_message", Args(new { recipient = new { kind = "agent", id = "a1" }, priority = "high", body = new { hello = "from mcp" } })));
        Assert.Equal("accepted", sent.GetProperty("status").GetString());
        var message = await fixture.Api.JsonAsync(HttpMethod.Get, "/api/v1/messages/" + sent.GetProperty("messageId").GetString());
        Assert.Equal("from mcp", message.GetProperty("body").GetProperty("hello").GetString());
    }

    [Fact]
    public async Task WorkflowTools_StartARun_AndReadItsStatus_AsTheCaller()
    {
        var defined = await fixture.Api.JsonAsync(HttpMethod.Post, "/api/v1/workflows", new
        {
            name = "mcp-started",
            inputs = new { type = "object" },
            steps = new object[] { new { id = "pause", kind = "delay", seconds = 0 } },
        }, HttpStatusCode.Created);
        var workflowId = defined.GetProperty("id").GetString()!;

        await using var client = await fixture.McpAsync(Admin);
        var started = Json(await client.CallToolAsync("start_workflow", Args(new { id = workflowId, input = new { x = 1 } })));
        var runId = started.GetProperty("runId").GetString()!;
        JsonElement status = default;
        await Eventually.True(async () =>
        {
            var read = await client.CallToolAsync("get_workflow_status", Args(new { runId }));
            Assert.False(read.IsError == true, Text(read));
            status = Json(read);
            return status.GetProperty("status").GetString() == "completed";
        }, "the run started over MCP completed", 90);
        Assert.Equal(runId, status.GetProperty("runId").GetString());
        // A dot segment would be collapsed into another route (GET /api/v1/workflows/status): refused instead.
        var dotted = await client.CallToolAsync("get_workflow_status", Args(new { runId = ".." }));
        Assert.True(dotted.IsError);
        Assert.Contains("answered 400", Text(dotted));

        // A viewer may read runs but not start them, as through REST.
        await using var viewer = await fixture.McpAsync(Viewer);
        var refused = await viewer.CallToolAsync("start_workflow", Args(new { id = workflowId }));
        Assert.True(refused.IsError);
        Assert.Contains("answered 403", Text(refused));
    }

    [Fact]
    public async Task ForbiddenCalls_AreRefusedAsTheRestRouteRefusesThem()
    {
        // A viewer may read but not register agents.
        await using (var viewer = await fixture.McpAsync(Viewer))
        {
            var refused = await viewer.CallToolAsync("register_agent", Args(new { id = "mcp-never", name = "never", kind = "external", capabilities = new[] { new { name = "x", proficiency = 0.5 } } }));
            Assert.True(refused.IsError);
            Assert.Contains("answered 403", Text(refused));
            Assert.Equal("https://agenticflow.dev/problems/forbidden", refused.StructuredContent!.Value.GetProperty("type").GetString());
            Assert.True(Json(await viewer.CallToolAsync("find_agents", Args(new { limit = 1 }))).TryGetProperty("items", out _));
        }
        using (var gone = await fixture.Api.SendAsync(HttpMethod.Get, "/api/v1/agents/mcp-never"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        }
        // An agent stores only its own memories.
        await using (var a2 = await fixture.McpAsync(AgentA2))
        {
            var refused = await a2.CallToolAsync("store_memory", Args(new { agentId = "a1", kind = "fact", content = "not mine to write" }));
            Assert.True(refused.IsError);
            Assert.Contains("answered 403", Text(refused));
        }
        // No key at all: the MCP endpoint itself answers 401, before any tool.
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.McpAsync("not-a-key"));
        using var anonymous = await fixture.Platform.Client.PostAsync("/mcp", new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(1e12)]
    [InlineData(-1)]
    [InlineData(301)]
    public async Task SubmitTask_WithAWaitSecondsOutsideItsSchema_IsInvalidParams_AndSubmitsNothing(double waitSeconds)
    {
        var teamId = await fixture.LlmTeamAsync("mcp-" + Guid.NewGuid().ToString("N")[..8], "mcp-wait");
        await using var client = await fixture.McpAsync(Admin);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.CallToolAsync("submit_task", Args(new { teamId, description = "never submitted", waitSeconds })).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Contains("waitSeconds", error.Message);
        var tasks = await fixture.Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks");
        Assert.Equal(0, tasks.GetProperty("items").GetArrayLength());
        // The endpoint still serves: an integer inside the range submits.
        var done = Json(await client.CallToolAsync("submit_task", Args(new { teamId, description = "submitted", waitSeconds = 0 })));
        Assert.False(string.IsNullOrEmpty(done.GetProperty("taskId").GetString()));
    }
}
