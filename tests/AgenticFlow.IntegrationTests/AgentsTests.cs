using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>One platform for the agents tests: short heartbeat and retry intervals, the fake LLM server as the only
/// provider, and a coordination stand-in the agents service reports to.</summary>
public sealed class AgentsPlatform : IAsyncLifetime
{
    public const double HeartbeatTimeoutSeconds = 2;

    public PlatformHarness Platform { get; private set; } = null!;
    public FakeProvider Llm { get; private set; } = null!;
    public CoordinationStub Coordination { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Llm = await FakeProvider.StartAsync();
        Llm.Reply = "The summary: three points.";
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" },
            ["agents"] = new()
            {
                ["Agents__HeartbeatCheckSeconds"] = "0.5",
                ["Agents__HeartbeatTimeoutSeconds"] = HeartbeatTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Agents__WorkRetrySeconds"] = "2",
                ["Agents__CoordinationAppId"] = CoordinationStub.AppId,
            },
            ["providers"] = new()
            {
                ["Providers__AllowPrivateEndpoints"] = "true",
                ["Providers__Items__0__Id"] = "fake",
                ["Providers__Items__0__Kind"] = "openai-compatible",
                ["Providers__Items__0__Endpoint"] = $"http://127.0.0.1:{Llm.Port}/v1",
                ["Providers__Items__0__Priority"] = "1",
                ["Providers__Items__0__Models__0__Name"] = "gpt-test",
                ["Providers__Items__0__Models__0__Features__0"] = "tools",
            },
        });
        Coordination = await CoordinationStub.StartAsync(Platform);
    }

    public async Task DisposeAsync()
    {
        await Coordination.DisposeAsync();
        await Platform.DisposeAsync();
        await Llm.DisposeAsync();
    }

    /// <summary>A call from another service (coordination) through the gateway's sidecar: Dapr invocation, no edge identity.</summary>
    public async Task<HttpResponseMessage> InternalAsync(string path, object body)
    {
        using var sidecar = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Platform.GatewaySidecar.HttpPort}") };
        sidecar.DefaultRequestHeaders.Add("dapr-api-token", Platform.DaprToken);
        return await sidecar.PostAsJsonAsync($"/v1.0/invoke/agents/method/{path.TrimStart('/')}", body);
    }
}

/// <summary>The agents service through the gateway: registration, the read model, ETags, heartbeats, work for llm and
/// external agents, removal, and bad input.</summary>
public sealed class AgentsTests(AgentsPlatform fixture) : IClassFixture<AgentsPlatform>
{
    private const string Admin = "dev-admin-key", Operator = "dev-operator-key", AgentA1 = "dev-agent-a1-key", AgentA2 = "dev-agent-a2-key", Viewer = "dev-viewer-key";
    private PlatformHarness Gw => fixture.Platform;

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static object External(string id, string capability = "summarise", double proficiency = 0.8, Dictionary<string, string>? labels = null) =>
        new { id, name = "Agent " + id, kind = "external", capabilities = new[] { new { name = capability, version = "1.0", proficiency } }, maxConcurrentTasks = 2, labels };

    /// <summary>An llm agent: no heartbeats expected, so its health (and ETag) change only when a test changes it.</summary>
    private static object Llm(string id, string capability = "summarise") =>
        new { id, name = "Llm " + id, kind = "llm", capabilities = new[] { new { name = capability, proficiency = 0.7 } }, llm = new { systemPrompt = "Be brief." } };

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, object? body = null, string? ifMatch = null)
    {
        using var request = Gw.Request(method, path, key, body);
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        return await Gw.Client.SendAsync(request);
    }

    private async Task<JsonElement> JsonOf(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private async Task<JsonElement> GetAgentAsync(string id, string key = Viewer)
    {
        var response = await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}", key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonOf(response);
    }

    [Fact]
    public async Task HundredAgents_AreRegistered_AndFoundByCapabilityLabelAndStatus()
    {
        var run = NewId("hundred");
        var ids = Enumerable.Range(0, 100).Select(i => $"{run}-{i:D3}").ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
        {
            var index = int.Parse(id[^3..]);
            var capability = index % 4 == 0 ? $"{run}-translate" : $"{run}-summarise";
            var response = await SendAsync(HttpMethod.Post, "/api/v1/agents", index % 2 == 0 ? Admin : Operator,
                External(id, capability, 0.5 + index / 1000.0, new() { ["run"] = run, ["tier"] = index < 10 ? "gold" : "silver" }));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal($"/api/v1/agents/{id}", response.Headers.Location?.OriginalString);
        });

        // Paged by cursor: every translator once, in id order.
        var found = new List<string>();
        string? cursor = null;
        do
        {
            var page = await JsonOf(await SendAsync(HttpMethod.Get, $"/api/v1/agents?capability={run}-translate&limit=10" + (cursor is null ? "" : $"&cursor={cursor}"), Viewer));
            found.AddRange(page.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(ids.Where((_, i) => i % 4 == 0).ToList(), found);

        var gold = await JsonOf(await SendAsync(HttpMethod.Get, $"/api/v1/agents?label=tier=gold&capability={run}-summarise&limit=500", AgentA1));
        Assert.Equal(ids.Take(10).Where((_, i) => i % 4 != 0).ToList(), gold.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("id").GetString()!).ToList());

        var capabilities = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/agents/capabilities", Viewer));
        var summarise = capabilities.EnumerateArray().Single(c => c.GetProperty("name").GetString() == $"{run}-summarise");
        Assert.Equal(75, summarise.GetProperty("agents").GetInt32());
        var holders = summarise.GetProperty("holders").EnumerateArray().ToList();
        Assert.Equal(ids.Where((_, i) => i % 4 != 0).Order(StringComparer.Ordinal), holders.Select(h => h.GetProperty("agentId").GetString()!).Order(StringComparer.Ordinal));
        // Holders come best first: available ones (these agents send no heartbeats, so some may have turned unhealthy
        // already), each group by proficiency.
        Assert.Equal(holders.Count(h => h.GetProperty("available").GetBoolean()), summarise.GetProperty("available").GetInt32());
        var order = holders.Select(h => (Available: h.GetProperty("available").GetBoolean(), Proficiency: h.GetProperty("proficiency").GetDouble())).ToList();
        Assert.Equal(order.OrderByDescending(o => o.Available).ThenByDescending(o => o.Proficiency).ToList(), order);

        // A status change reaches the read model.
        var offline = await SendAsync(HttpMethod.Put, $"/api/v1/agents/{ids[1]}/state", Operator, new { status = "offline" });
        Assert.Equal(HttpStatusCode.OK, offline.StatusCode);
        var offlineList = await JsonOf(await SendAsync(HttpMethod.Get, $"/api/v1/agents?status=offline&label=run={run}", Viewer));
        Assert.Equal([ids[1]], offlineList.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("id").GetString()).ToList());
    }

    [Fact]
    public async Task ConcurrentStateUpdates_WithTheSameETag_OneWins_TheOthersGet412()
    {
        var id = NewId("etag");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, Llm(id))).StatusCode);
        var read = await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}", Viewer);
        var etag = read.Headers.ETag!.Tag;

        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            SendAsync(HttpMethod.Put, $"/api/v1/agents/{id}/state", Operator, new { status = "busy", load = i / 20.0, custom = new { writer = i } }, etag)));

        Assert.Equal(1, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.Equal(11, answers.Count(a => a.StatusCode == HttpStatusCode.PreconditionFailed));
        var stale = answers.First(a => a.StatusCode == HttpStatusCode.PreconditionFailed);
        Assert.Equal("application/problem+json", stale.Content.Headers.ContentType?.MediaType);
        Assert.EndsWith("/etag-mismatch", (await JsonOf(stale)).GetProperty("type").GetString());
        var winner = await JsonOf(answers.Single(a => a.StatusCode == HttpStatusCode.OK));
        var now = await GetAgentAsync(id);
        Assert.Equal(winner.GetProperty("custom").GetProperty("writer").GetInt32(), now.GetProperty("custom").GetProperty("writer").GetInt32());
        Assert.NotEqual(etag, now.GetProperty("etag").GetString());
        Assert.Equal("busy", now.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Roles_AnAgentChangesOnlyItself_ViewersOnlyRead_OperatorsRegister()
    {
        var id = NewId("roles");
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, "/api/v1/agents", AgentA1, External(id))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Viewer, External(id))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Operator, External(id))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, External(id))).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Put, $"/api/v1/agents/{id}/state", AgentA1, new { status = "busy" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Put, $"/api/v1/agents/{id}/state", Viewer, new { status = "busy" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/{id}/heartbeat", AgentA2)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/{id}/tasks/t1/result", AgentA2, new { status = "completed" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Delete, $"/api/v1/agents/{id}", AgentA1)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Delete, $"/api/v1/agents/{id}", Viewer)).StatusCode);
        Assert.Equal("idle", (await GetAgentAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task MissedHeartbeats_MarkAnAgentUnhealthy_AndABeatMakesItHealthyAgain()
    {
        // a1's own key beats for it: the id is the one its API key names.
        var registered = await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, External("a1", "heartbeat-check"));
        Assert.True(registered.StatusCode is HttpStatusCode.Created, await registered.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/v1/agents/a1/heartbeat", AgentA1)).StatusCode);
        Assert.Equal("healthy", (await GetAgentAsync("a1")).GetProperty("health").GetString());

        // No beats: the actor's reminder notices.
        await Eventually.True(async () => (await GetAgentAsync("a1")).GetProperty("health").GetString() == "unhealthy",
            "a1 marked unhealthy after missed heartbeats", seconds: 90);
        var unhealthy = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/agents/capabilities", Viewer));
        var holder = unhealthy.EnumerateArray().Single(c => c.GetProperty("name").GetString() == "heartbeat-check").GetProperty("holders")[0];
        Assert.Equal("unhealthy", holder.GetProperty("health").GetString());
        Assert.False(holder.GetProperty("available").GetBoolean());

        var beat = await SendAsync(HttpMethod.Post, "/api/v1/agents/a1/heartbeat", AgentA1);
        Assert.Equal(HttpStatusCode.OK, beat.StatusCode);
        Assert.Equal("healthy", (await JsonOf(beat)).GetProperty("health").GetString());
        Assert.Equal("healthy", (await GetAgentAsync("a1")).GetProperty("health").GetString());
        var healthy = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/agents?capability=heartbeat-check", Viewer));
        Assert.True(healthy.GetProperty("items")[0].GetProperty("available").GetBoolean());
    }

    [Fact]
    public async Task LlmAgentTask_IsAnsweredThroughProviders_WithItsConversationStored_AndReportedToCoordination()
    {
        var id = NewId("llm");
        var registered = await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, new
        {
            id,
            name = "Summariser",
            kind = "llm",
            capabilities = new[] { new { name = "summarise", proficiency = 0.9 } },
            maxConcurrentTasks = 4,
            llm = new { model = "gpt-test", systemPrompt = "You summarise documents in three points.", tools = new[] { new { name = "lookup", description = "Looks a word up" } } },
        });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        // Its prompt and tools are shown to admins and operators, not to every reader.
        Assert.Equal("You summarise documents in three points.", (await GetAgentAsync(id, Operator)).GetProperty("llm").GetProperty("systemPrompt").GetString());
        Assert.Equal(JsonValueKind.Null, (await GetAgentAsync(id, Viewer)).GetProperty("llm").ValueKind);
        Assert.Equal(JsonValueKind.Null, (await GetAgentAsync(id, AgentA1)).GetProperty("llm").ValueKind);

        var task = new { taskId = NewId("task"), teamId = "team-1", description = "Summarise the report", input = new { doc = "Q3 numbers" }, requiredCapabilities = new[] { "summarise" } };
        var accepted = await fixture.InternalAsync($"/internal/agents/{id}/tasks", task);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        // Given twice (a retry from coordination): still one task.
        Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync($"/internal/agents/{id}/tasks", task)).StatusCode);

        JsonElement work = default;
        await Eventually.True(async () =>
        {
            var response = await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}/tasks/{task.taskId}", Viewer);
            work = await JsonOf(response);
            return response.StatusCode == HttpStatusCode.OK && work.GetProperty("status").GetString() == "completed" && work.GetProperty("report").GetString() == "done";
        }, "the llm task completed and reported", seconds: 90);

        Assert.Equal("The summary: three points.", work.GetProperty("output").GetProperty("text").GetString());
        var conversation = work.GetProperty("conversation").EnumerateArray().ToList();
        Assert.Equal("user", conversation[0].GetProperty("role").GetString());
        Assert.Contains("Summarise the report", conversation[0].GetProperty("text").GetString());
        Assert.Contains("Q3 numbers", conversation[0].GetProperty("text").GetString());
        Assert.Equal("assistant", conversation[^1].GetProperty("role").GetString());
        Assert.Equal("The summary: three points.", conversation[^1].GetProperty("text").GetString());

        // The model saw the agent's system prompt and tools, through the providers service.
        var sent = fixture.Llm.Requests.Select(r => r.Body).Where(b => b.Contains(task.taskId, StringComparison.Ordinal)).ToList();
        Assert.Single(sent);
        Assert.Contains("You summarise documents in three points.", sent[0]);
        Assert.Contains("lookup", sent[0]);

        // Coordination got the result once, from this agent.
        var reports = fixture.Coordination.Calls.Where(c => c.Path == $"/internal/tasks/{task.taskId}/result").ToList();
        Assert.Single(reports);
        Assert.Equal(id, reports[0].Body.GetProperty("agentId").GetString());
        Assert.Equal("completed", reports[0].Body.GetProperty("status").GetString());
        Assert.Equal("The summary: three points.", reports[0].Body.GetProperty("output").GetProperty("text").GetString());
        var agent = await GetAgentAsync(id);
        Assert.Equal(0, agent.GetProperty("activeTasks").GetInt32());
    }

    [Fact]
    public async Task ExternalAgentTask_ArrivesInItsQueue_AndItsResultIsForwardedOnce()
    {
        var registered = await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, External("a2", "external-work"));
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var taskId = NewId("ext");
        var task = new { taskId, teamId = "team-2", description = "Label the images", input = new { batch = 7 }, requiredCapabilities = new[] { "external-work" } };
        Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync("/internal/agents/a2/tasks", task)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync("/internal/agents/a2/tasks", task)).StatusCode);

        var queue = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/messages/queue/a2?max=10", AgentA2));
        var messages = queue.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("body").GetProperty("taskId").GetString() == taskId).ToList();
        Assert.Single(messages);
        Assert.Equal("task.assigned", messages[0].GetProperty("body").GetProperty("type").GetString());
        Assert.Equal(7, messages[0].GetProperty("body").GetProperty("input").GetProperty("batch").GetInt32());
        Assert.Equal(1, (await GetAgentAsync("a2")).GetProperty("activeTasks").GetInt32());

        // Only a2 (or an operator) posts a2's result.
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/a2/tasks/{taskId}/result", AgentA1, new { status = "completed" })).StatusCode);
        var result = await SendAsync(HttpMethod.Post, $"/api/v1/agents/a2/tasks/{taskId}/result", AgentA2, new { status = "completed", output = new { labels = 42 } });
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("forwarded", (await JsonOf(result)).GetProperty("forwarded").GetString());
        // The same result again is a retry: answered, not forwarded again. A different one contradicts it.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/a2/tasks/{taskId}/result", AgentA2, new { status = "completed", output = new { labels = 42 } })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/a2/tasks/{taskId}/result", AgentA2, new { status = "failed", error = "oops" })).StatusCode);

        var forwarded = fixture.Coordination.Calls.Where(c => c.Path == $"/internal/tasks/{taskId}/result").ToList();
        Assert.Single(forwarded);
        Assert.Equal("a2", forwarded[0].Body.GetProperty("agentId").GetString());
        Assert.Equal(42, forwarded[0].Body.GetProperty("output").GetProperty("labels").GetInt32());
        Assert.Equal(0, (await GetAgentAsync("a2")).GetProperty("activeTasks").GetInt32());

        // A result for a task coordination gave to someone else meanwhile is refused.
        var reassigned = NewId("ext");
        fixture.Coordination.ResultStatus[reassigned] = 409;
        Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync("/internal/agents/a2/tasks", task with { taskId = reassigned })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(HttpMethod.Post, $"/api/v1/agents/a2/tasks/{reassigned}/result", AgentA2, new { status = "completed" })).StatusCode);
    }

    [Fact]
    public async Task Votes_AnLlmAgentVotesThroughItsModel_AnExternalAgentGetsTheRequestInItsQueue()
    {
        var llm = NewId("voter");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, Llm(llm, "voting"))).StatusCode);
        var external = NewId("voter");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, External(external, "voting"))).StatusCode);
        var before = fixture.Llm.Reply;
        try
        {
            fixture.Llm.Reply = "{\"choice\": \"ship\", \"reason\": \"the tests pass\"}";
            var round = NewId("round");
            var vote = new { roundId = round, teamId = "team-v", proposal = "Ship release 2?", options = new[] { "ship", "wait" }, deadline = DateTimeOffset.UtcNow.AddMinutes(5) };
            Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync($"/internal/agents/{llm}/votes", vote)).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync($"/internal/agents/{external}/votes", vote)).StatusCode);

            await Eventually.True(() => fixture.Coordination.Calls.Any(c => c.Path == $"/internal/consensus/{round}/votes"), "the llm agent's vote reached coordination", seconds: 90);
            var cast = fixture.Coordination.Calls.Single(c => c.Path == $"/internal/consensus/{round}/votes").Body;
            Assert.Equal(llm, cast.GetProperty("agentId").GetString());
            Assert.Equal("ship", cast.GetProperty("choice").GetString());
            Assert.Equal("the tests pass", cast.GetProperty("reason").GetString());

            var queue = await JsonOf(await SendAsync(HttpMethod.Get, $"/api/v1/messages/queue/{external}?max=10", Admin));
            var request = Assert.Single(queue.GetProperty("messages").EnumerateArray()).GetProperty("body");
            Assert.Equal("vote.requested", request.GetProperty("type").GetString());
            Assert.Equal(round, request.GetProperty("roundId").GetString());
            Assert.Equal(["ship", "wait"], request.GetProperty("options").EnumerateArray().Select(o => o.GetString()!).ToArray());

            // An answer that names no option is an abstention, with the model's words as the reason.
            fixture.Llm.Reply = "I would rather not say.";
            var second = NewId("round");
            Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync($"/internal/agents/{llm}/votes", vote with { roundId = second })).StatusCode);
            await Eventually.True(() => fixture.Coordination.Calls.Any(c => c.Path == $"/internal/consensus/{second}/votes"), "the abstention reached coordination", seconds: 90);
            var abstained = fixture.Coordination.Calls.Single(c => c.Path == $"/internal/consensus/{second}/votes").Body;
            Assert.Equal(JsonValueKind.Null, abstained.GetProperty("choice").ValueKind);
            Assert.True(abstained.GetProperty("abstain").GetBoolean());
            Assert.Contains("I would rather not say.", abstained.GetProperty("reason").GetString());
        }
        finally
        {
            fixture.Llm.Reply = before;
        }
    }

    [Fact]
    public async Task LlmTask_InterruptedByAServiceCrash_IsResumedByItsReminder_AndCompletedOnce()
    {
        var id = NewId("crash");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, Llm(id, "crash-work"))).StatusCode);
        var taskId = NewId("task");
        // The first model call hangs; the agents service is killed while it waits.
        fixture.Llm.Script.Enqueue("slow:20000");
        Assert.Equal(HttpStatusCode.Accepted, (await fixture.InternalAsync($"/internal/agents/{id}/tasks", new { taskId, description = "Survive a crash" })).StatusCode);
        await Eventually.True(() => fixture.Llm.Requests.Any(r => r.Body.Contains(taskId, StringComparison.Ordinal)), "the first model call started", seconds: 60);
        await Gw.KillServiceAsync("agents");
        await Gw.RestartServiceAsync("agents");

        JsonElement work = default;
        await Eventually.True(async () =>
        {
            var response = await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}/tasks/{taskId}", Viewer);
            work = response.StatusCode == HttpStatusCode.OK ? await JsonOf(response) : default;
            return work.ValueKind == JsonValueKind.Object && work.GetProperty("report").GetString() == "done";
        }, "the interrupted task completed after the restart", seconds: 120);
        Assert.Equal("completed", work.GetProperty("status").GetString());
        Assert.Equal(fixture.Llm.Reply, work.GetProperty("output").GetProperty("text").GetString());
        Assert.Single(fixture.Coordination.Calls, c => c.Path == $"/internal/tasks/{taskId}/result");
        Assert.True(fixture.Llm.Requests.Count(r => r.Body.Contains(taskId, StringComparison.Ordinal)) >= 2, "the run was started again after the crash");
    }

    [Fact]
    public async Task Delete_DrainsThroughCoordination_AndKeepsTheAgentWhenCoordinationFails()
    {
        var id = NewId("drain");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, External(id, "draining-work"))).StatusCode);

        fixture.Coordination.DrainStatus = 503;
        var refused = await SendAsync(HttpMethod.Delete, $"/api/v1/agents/{id}", Operator);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.EndsWith("/coordination-unavailable", (await JsonOf(refused)).GetProperty("type").GetString());
        Assert.Equal("idle", (await GetAgentAsync(id)).GetProperty("status").GetString());

        fixture.Coordination.DrainStatus = 200;
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/api/v1/agents/{id}", Operator)).StatusCode);
        Assert.Contains(fixture.Coordination.Calls, c => c.Path == $"/internal/agents/{id}/drain");
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/api/v1/agents/{id}", Viewer)).StatusCode);
        var listed = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/agents?capability=draining-work", Viewer));
        Assert.Equal(0, listed.GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.InternalAsync($"/internal/agents/{id}/tasks", new { taskId = "late", description = "too late" })).StatusCode);
    }

    [Fact]
    public async Task BadInput_OnEveryEndpoint_IsA4xxProblem_AndStoresNothing()
    {
        var id = NewId("bad");
        var bad = new (HttpMethod Method, string Path, object? Body, HttpStatusCode Status)[]
        {
            (HttpMethod.Post, "/api/v1/agents", new { name = "x", kind = "robot", capabilities = new[] { new { name = "a", proficiency = 0.5 } } }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, "/api/v1/agents", new { id, name = "x", kind = "external", capabilities = new[] { new { name = "a", proficiency = 1.5 } } }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, "/api/v1/agents", new { id, name = "x", kind = "llm", capabilities = new[] { new { name = "a", proficiency = 0.5 } } }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, "/api/v1/agents", new { id = "../x", name = "x", kind = "external", capabilities = new[] { new { name = "a", proficiency = 0.5 } } }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, "/api/v1/agents", new { id, name = "x", kind = "external", capabilities = Array.Empty<object>() }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, "/api/v1/agents", new { id, name = "x", kind = "external", capabilities = new[] { new { name = "a", proficiency = 0.5 } }, maxConcurrentTasks = 0 }, HttpStatusCode.BadRequest),
            (HttpMethod.Put, $"/api/v1/agents/{id}/state", new { status = "sleeping" }, HttpStatusCode.BadRequest),
            (HttpMethod.Put, $"/api/v1/agents/{id}/state", new { load = 7 }, HttpStatusCode.BadRequest),
            (HttpMethod.Put, $"/api/v1/agents/{id}/state", new { status = "busy" }, HttpStatusCode.NotFound),
            (HttpMethod.Post, $"/api/v1/agents/{id}/heartbeat", null, HttpStatusCode.NotFound),
            (HttpMethod.Post, $"/api/v1/agents/{id}/tasks/t1/result", new { status = "done" }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, $"/api/v1/agents/{id}/tasks/t1/result", new { status = "failed" }, HttpStatusCode.BadRequest),
            (HttpMethod.Post, $"/api/v1/agents/{id}/tasks/t1/result", new { status = "completed" }, HttpStatusCode.NotFound),
            (HttpMethod.Get, $"/api/v1/agents/{id}", null, HttpStatusCode.NotFound),
            (HttpMethod.Get, $"/api/v1/agents/{id}/tasks/t1", null, HttpStatusCode.NotFound),
            (HttpMethod.Delete, $"/api/v1/agents/{id}", null, HttpStatusCode.NotFound),
            (HttpMethod.Get, "/api/v1/agents?limit=0", null, HttpStatusCode.BadRequest),
            (HttpMethod.Get, "/api/v1/agents?limit=many", null, HttpStatusCode.BadRequest),
            (HttpMethod.Get, "/api/v1/agents?status=asleep", null, HttpStatusCode.BadRequest),
        };
        foreach (var (method, path, body, status) in bad)
        {
            var response = await SendAsync(method, path, Admin, body);
            Assert.True(status == response.StatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using var malformed = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents") { Content = new StringContent("{\"name\":", System.Text.Encoding.UTF8, "application/json") };
        malformed.Headers.Add("X-Api-Key", Admin);
        Assert.Equal(HttpStatusCode.BadRequest, (await Gw.Client.SendAsync(malformed)).StatusCode);
        // A malformed If-Match, and internal routes refuse bad work too.
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/api/v1/agents", Admin, Llm(id, "bad-input"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Put, $"/api/v1/agents/{id}/state", Admin, new { status = "busy" }, "W/nonsense")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.InternalAsync($"/internal/agents/{id}/tasks", new { taskId = "t 1", description = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.InternalAsync($"/internal/agents/{id}/tasks", new { taskId = "t1" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.InternalAsync($"/internal/agents/{id}/votes", new { roundId = "r1", proposal = "x", options = new[] { "yes" } })).StatusCode);

        // Nothing of the refused requests was stored: the agent is as registered, and no other agent appeared.
        var agent = await GetAgentAsync(id);
        Assert.Equal("\"1\"", agent.GetProperty("etag").GetString());
        Assert.Equal("idle", agent.GetProperty("status").GetString());
        Assert.Equal(0, agent.GetProperty("activeTasks").GetInt32());
        var listed = await JsonOf(await SendAsync(HttpMethod.Get, "/api/v1/agents?capability=a", Viewer));
        Assert.Equal(0, listed.GetProperty("items").GetArrayLength());
        // And the internal routes are not reachable through the gateway.
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/internal/agents/{id}/tasks", Admin, new { taskId = "t1", description = "x" })).StatusCode);
    }
}
