using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Workflows;

/// <summary>The whole platform once for this class; each test defines workflows of its own.</summary>
public sealed class WorkflowsPlatform : IAsyncLifetime
{
    public const string TriggerTopic = "wf-test-orders";

    public PlatformHarness Platform { get; private set; } = null!;
    public WorkflowsClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" },
            ["agents"] = new() { ["Agents__HeartbeatTimeoutSeconds"] = "86400" },
            ["workflows"] = new()
            {
                ["Workflows__TriggerTopics__0"] = TriggerTopic,
                ["Workflows__TriggerTopics__1"] = "workflows.run-completed",
                ["Workflows__AgentTaskPollSeconds"] = "5",
                // The invoke steps of these tests send messages (a countable side effect).
                ["Workflows__InvokeTargets__0"] = "messaging/api/v1/",
            },
        });
        Api = new WorkflowsClient(Platform);
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}

/// <summary>Definitions and runs end to end through the gateway: the local runtime's workflow backend, real sidecars,
/// the real messaging, providers (built-in local model), agents and coordination services.</summary>
public sealed class WorkflowsTests(WorkflowsPlatform fixture) : IClassFixture<WorkflowsPlatform>
{
    private WorkflowsClient Api => fixture.Api;

    private static string[] Strings(IEnumerable<JsonElement> bodies, string field) => bodies.Select(b => b.GetProperty(field).GetString()!).ToArray();

    [Fact]
    public async Task IssueExample_DraftsWaitsForApprovalAndPublishes()
    {
        var id = await Api.DefineAsync(new
        {
            name = "review",
            inputs = new { type = "object", required = new[] { "ticket" } },
            steps = new object[]
            {
                new { id = "draft", kind = "llm", prompt = "Draft a reply to ${input.ticket}" },
                new { id = "wait", kind = "delay", seconds = 1 },
                new { id = "approve", kind = "wait-for-event", @event = "approval", timeoutSeconds = 3600 },
                new { id = "send", kind = "publish", topic = "replies", data = "${steps.draft.output}", when = "steps.approve.output.approved" },
            },
        });
        var runId = await Api.ExecuteAsync(id, new { ticket = "T-42" });
        await Api.WaitForStepAsync(runId, "approve", "waiting");
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/approval", new { approved = true, comment = "ship it" }, HttpStatusCode.Accepted);
        var status = await Api.WaitForEndAsync(runId);

        Assert.Equal("completed", status.GetProperty("status").GetString());
        var draft = WorkflowsClient.Step(status, "draft")!.Value;
        Assert.Contains("T-42", draft.GetProperty("output").GetString());
        Assert.Equal("ship it", WorkflowsClient.Step(status, "approve")!.Value.GetProperty("output").GetProperty("comment").GetString());
        var send = WorkflowsClient.Step(status, "send")!.Value;
        Assert.Equal("completed", send.GetProperty("status").GetString());
        Assert.Equal(draft.GetProperty("output").GetString(), send.GetProperty("output").GetString());
        Assert.All(status.GetProperty("steps").EnumerateArray(), s => Assert.Equal(1, s.GetProperty("attempts").GetInt32()));

        var definition = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/workflows/{id}", key: WorkflowsClient.Viewer);
        Assert.Contains(definition.GetProperty("recentRuns").EnumerateArray(), r => r.GetProperty("runId").GetString() == runId);
    }

    [Fact]
    public async Task ApprovalThatTimesOut_SkipsTheGuardedStep()
    {
        var id = await Api.DefineAsync(new
        {
            name = "timeout",
            steps = new object[]
            {
                new { id = "approve", kind = "wait-for-event", @event = "approval", timeoutSeconds = 1 },
                new { id = "send", kind = "publish", topic = "replies", data = "sent", when = "steps.approve.output.approved" },
            },
        });
        var status = await Api.WaitForEndAsync(await Api.ExecuteAsync(id));
        Assert.Equal("completed", status.GetProperty("status").GetString());
        Assert.True(WorkflowsClient.Step(status, "approve")!.Value.GetProperty("output").GetProperty("timedOut").GetBoolean());
        Assert.Equal("skipped", WorkflowsClient.Step(status, "send")!.Value.GetProperty("status").GetString());
    }

    [Fact]
    public async Task FailingStep_IsRetriedThenCompensatedWithTheEarlierStepsInReverseOrder()
    {
        var id = await Api.DefineAsync(new
        {
            name = "saga",
            steps = new object[]
            {
                WorkflowsClient.Send("reserve", "saga-work", new { step = "reserve" }, compensate: WorkflowsClient.Send("undo_reserve", "saga-undo", new { undo = "reserve" })),
                WorkflowsClient.Send("charge", "saga-work", new { step = "charge" }, compensate: WorkflowsClient.Send("undo_charge", "saga-undo", new { undo = "charge" })),
                new
                {
                    id = "ship", kind = "invoke", app = "messaging", method = "api/v1/no-such-route",
                    retry = new { maxAttempts = 3, backoffSeconds = 0.2 },
                    compensate = WorkflowsClient.Send("undo_ship", "saga-undo", new { undo = "ship" }),
                },
            },
        });
        var status = await Api.WaitForEndAsync(await Api.ExecuteAsync(id));
        Assert.Equal("failed", status.GetProperty("status").GetString());
        var ship = WorkflowsClient.Step(status, "ship")!.Value;
        Assert.Equal("failed", ship.GetProperty("status").GetString());
        Assert.Equal(3, ship.GetProperty("attempts").GetInt32());
        Assert.Contains("404", ship.GetProperty("error").GetString());
        Assert.Equal("compensated", WorkflowsClient.Step(status, "reserve")!.Value.GetProperty("status").GetString());

        Assert.Equal(["ship", "charge", "reserve"], Strings(await Api.DrainAsync("saga-undo", 3), "undo"));
        Assert.Equal(["reserve", "charge"], Strings(await Api.DrainAsync("saga-work", 2), "step"));
    }

    [Fact]
    public async Task CancelMidRun_RunsTheCompensationsOfCompletedStepsInReverseOrder()
    {
        var id = await Api.DefineAsync(new
        {
            name = "cancellable",
            steps = new object[]
            {
                WorkflowsClient.Send("one", "cancel-work", new { step = "one" }, compensate: WorkflowsClient.Send("undo_one", "cancel-undo", new { undo = "one" })),
                WorkflowsClient.Send("two", "cancel-work", new { step = "two" }, compensate: WorkflowsClient.Send("undo_two", "cancel-undo", new { undo = "two" })),
                new { id = "hold", kind = "wait-for-event", @event = "never" },
                WorkflowsClient.Send("three", "cancel-work", new { step = "three" }),
            },
        });
        var runId = await Api.ExecuteAsync(id);
        await Api.WaitForStepAsync(runId, "hold", "waiting");
        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{runId}/cancel", new { reason = "customer withdrew" }, HttpStatusCode.Accepted);
        var status = await Api.WaitForEndAsync(runId);

        Assert.Equal("cancelled", status.GetProperty("status").GetString());
        Assert.Contains("customer withdrew", status.GetProperty("error").GetString());
        Assert.Null(WorkflowsClient.Step(status, "three"));
        Assert.Equal(["two", "one"], Strings(await Api.DrainAsync("cancel-undo", 2), "undo"));
        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{runId}/cancel", expected: HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task FiftyBranchForEach_RunsEveryBranchOnce()
    {
        var id = await Api.DefineAsync(new
        {
            name = "fan-out",
            steps = new object[]
            {
                new
                {
                    id = "fan", kind = "parallel", forEach = "input.items",
                    steps = new object[] { WorkflowsClient.Send("call", "fan-work", new { item = "${item}", index = "${index}" }) },
                },
                new { id = "count", kind = "condition", @if = "size(steps.fan.output) == 50", then = new object[] { new { id = "done", kind = "delay", seconds = 0 } } },
            },
        });
        var status = await Api.WaitForEndAsync(await Api.ExecuteAsync(id, new { items = Enumerable.Range(0, 50).Select(i => $"item-{i}").ToArray() }), 180);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        Assert.Equal(50, WorkflowsClient.Step(status, "fan")!.Value.GetProperty("output").GetArrayLength());
        Assert.Equal("completed", WorkflowsClient.Step(status, "done")!.Value.GetProperty("status").GetString());
        var items = Strings(await Api.DrainAsync("fan-work", 50), "item");
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"item-{i}").Order(), items.Order());
    }

    [Fact]
    public async Task NOfMJoin_ContinuesOnceEnoughBranchesComplete()
    {
        var id = await Api.DefineAsync(new
        {
            name = "quorum",
            steps = new object[]
            {
                new
                {
                    id = "votes", kind = "parallel", join = "n-of-m", n = 2,
                    branches = new object[]
                    {
                        new object[] { new { id = "a", kind = "delay", seconds = 0 } },
                        new object[] { new { id = "b", kind = "wait-for-event", @event = "never" } },
                        new object[] { new { id = "c", kind = "delay", seconds = 0.5 } },
                    },
                },
                new { id = "after", kind = "publish", topic = "quorum", data = "${steps.votes.output}" },
            },
        });
        var status = await Api.WaitForEndAsync(await Api.ExecuteAsync(id));
        Assert.Equal("completed", status.GetProperty("status").GetString());
        Assert.Equal("waiting", WorkflowsClient.Step(status, "b")!.Value.GetProperty("status").GetString());
        Assert.Equal("completed", WorkflowsClient.Step(status, "after")!.Value.GetProperty("status").GetString());
    }

    [Fact]
    public async Task AWorkflowCallingItself_StopsAtTheNestingLimit_AndFails()
    {
        var id = await Api.DefineAsync(new { name = "recursive", steps = new object[] { new { id = "rest", kind = "delay", seconds = 0 } } });
        // Version 2 calls the definition itself: stored (the definition exists), and ended at run time.
        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{id}", new
        {
            name = "recursive", steps = new object[] { new { id = "again", kind = "sub-workflow", workflow = id } },
        });

        var status = await Api.WaitForEndAsync(await Api.ExecuteAsync(id), 240);

        Assert.Equal("failed", status.GetProperty("status").GetString());
        Assert.Contains("sub-workflow", status.GetProperty("error").GetString());
        var runs = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/workflows/{id}/runs?limit=100", key: WorkflowsClient.Viewer);
        Assert.InRange(runs.GetProperty("items").GetArrayLength(), 2, 1 + 8 + 1);
    }

    [Fact]
    public async Task InvokeSteps_BeyondTheAllowedTargets_AreRefused_WithTheirPointers()
    {
        using var response = await Api.SendAsync(HttpMethod.Post, "/api/v1/workflows", new
        {
            id = "escalate",
            name = "escalate",
            steps = new object[]
            {
                // A provider's configuration (admin-only through the gateway), this service itself, an internal route.
                new { id = "a", kind = "invoke", app = "providers", verb = "PUT", method = "api/v1/providers/openai/config", data = new { endpoint = "http://attacker" } },
                new { id = "b", kind = "invoke", app = "workflows", method = "api/v1/workflows" },
                WorkflowsClient.Send("c", "x", new { }, compensate: new { id = "undo", kind = "invoke", app = "messaging", method = "internal/anything" }),
            },
        });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var pointers = problem.GetProperty("problems").EnumerateArray().Select(p => p.GetProperty("pointer").GetString()).ToHashSet();
        Assert.Equal(new HashSet<string?> { "/steps/0/app", "/steps/1/app", "/steps/2/compensate/app" }, pointers);
        await Api.JsonAsync(HttpMethod.Get, "/api/v1/workflows/escalate", expected: HttpStatusCode.NotFound, key: WorkflowsClient.Viewer);
    }

    [Fact]
    public async Task DefinitionWithEveryKindOfError_IsRefusedWithEachProblemsPointer_AndNothingStored()
    {
        using var response = await Api.SendAsync(HttpMethod.Post, "/api/v1/workflows", new
        {
            id = "broken-def",
            name = "broken",
            inputs = new { type = 5 },
            steps = new object[]
            {
                new { id = "a", kind = "teleport" },
                new { id = "b", kind = "llm", prompt = "${steps.nobody.output}" },
                new { id = "c", kind = "publish", topic = "t", data = "${steps.d.output}" },
                new { id = "d", kind = "condition", @if = "input.x >", then = new object[] { new { id = "e", kind = "delay", seconds = 1 } } },
                new { id = "f", kind = "sub-workflow", workflow = "no-such-workflow" },
            },
        });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("https://agenticflow.dev/problems/invalid-workflow-definition", problem.GetProperty("type").GetString());
        var pointers = problem.GetProperty("problems").EnumerateArray().Select(p => p.GetProperty("pointer").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "/inputs", "/steps/0/kind", "/steps/1/prompt", "/steps/2/data", "/steps/3/if" }, pointers);
        await Api.JsonAsync(HttpMethod.Get, "/api/v1/workflows/broken-def", expected: HttpStatusCode.NotFound, key: WorkflowsClient.Viewer);

        // Only the sub-workflow reference left: it is checked against the stored definitions.
        using var second = await Api.SendAsync(HttpMethod.Post, "/api/v1/workflows", new
        {
            name = "dangling", steps = new object[] { new { id = "f", kind = "sub-workflow", workflow = "no-such-workflow" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.Contains("/steps/0/workflow", await second.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InputThatBreaksTheSchema_IsRefused_AndRolesAreChecked()
    {
        var id = await Api.DefineAsync(new
        {
            name = "typed",
            inputs = new { type = "object", required = new[] { "n" }, properties = new { n = new { type = "integer" } } },
            steps = new object[] { new { id = "a", kind = "delay", seconds = 0 } },
        });
        var refused = await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{id}/execute", new { input = new { n = "seven" } }, HttpStatusCode.BadRequest);
        Assert.Equal("https://agenticflow.dev/problems/invalid-workflow-input", refused.GetProperty("type").GetString());
        Assert.Contains(refused.GetProperty("problems").EnumerateArray(), p => p.GetProperty("pointer").GetString() == "/input/n");
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{id}/execute", new { input = new { n = 7 } }, HttpStatusCode.Forbidden, WorkflowsClient.Viewer);
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{id}/execute", new { input = new { n = 7 } }, HttpStatusCode.Forbidden, "dev-agent-a1-key");
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/workflows", new { name = "x", steps = new object[] { new { id = "a", kind = "delay", seconds = 0 } } }, HttpStatusCode.Forbidden, WorkflowsClient.Viewer);
        var runs = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/workflows/{id}/runs", key: WorkflowsClient.Viewer);
        Assert.Equal(0, runs.GetProperty("items").GetArrayLength());
    }
}
