using System.Net;
using System.Text.Json;

namespace AgenticFlow.LocalRuntime.Tests.Conformance;

/// <summary>
/// The runtime driven by the official JavaScript SDK (<c>@dapr/dapr</c>, pinned by tests/conformance-js's lock file):
/// workflows and activities written in JavaScript, actors hosted by a JavaScript app, state, pub/sub, bulk publish
/// and invocation through its clients. Each test runs a driver script and asserts on what it reports, and reads
/// the outcome back through the sidecar itself (HTTP workflow and actor APIs, the .NET client for state).
/// </summary>
public sealed class JavaScriptSdkConformanceTests(JavaScriptApp js) : IClassFixture<JavaScriptApp>
{
    // ---- workflows ----

    [Fact]
    public async Task Workflow_Chaining_RunsEachActivityOnceInOrder_AndReturnsTheirResults()
    {
        var result = await js.RunAsync("workflows.js", "chaining");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        Assert.Equal(["JS", "JS!", "JS!!"], Strings(result.GetProperty("output")));
        Assert.Equal(["upper:\"js\"", "exclaim:\"JS\"", "exclaim:\"JS!\""], Strings(result.GetProperty("activities")));
        var (status, output) = await WorkflowAsync(result);
        Assert.Equal("COMPLETED", status);
        Assert.Equal("""["JS","JS!","JS!!"]""", output);
    }

    [Fact]
    public async Task Workflow_FanOutFanIn_OfMoreActivitiesThanTheWorkerKeeps_RunsEveryOne_AndSumsTheirResults()
    {
        var result = await js.RunAsync("workflows.js", "fanOutFanIn");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        Assert.Equal(300, result.GetProperty("output").GetProperty("count").GetInt32());
        Assert.Equal(Enumerable.Range(1, 300).Sum(i => i * i), result.GetProperty("output").GetProperty("sum").GetInt32());
        Assert.Equal(300, result.GetProperty("activities").GetInt32());
    }

    [Fact]
    public async Task Workflow_DurableTimer_FiresNoSoonerThanItsTime()
    {
        var result = await js.RunAsync("workflows.js", "timer");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        // The workflow's own clock (the step timestamps the runtime hands out) moved past the timer's second.
        Assert.InRange(result.GetProperty("output").GetProperty("waitedMs").GetInt64(), 1000, 30_000);
        Assert.True(result.GetProperty("wallMs").GetInt64() >= 1000);
    }

    [Fact]
    public async Task Workflow_ExternalEvent_IsDeliveredWithItsPayload_AndAnUnansweredWaitTimesOut()
    {
        var result = await js.RunAsync("workflows.js", "externalEvents");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        var output = result.GetProperty("output");
        Assert.Equal("decided", output.GetProperty("outcome").GetString());
        Assert.True(output.GetProperty("decision").GetProperty("approved").GetBoolean());
        Assert.Equal("js", output.GetProperty("decision").GetProperty("by").GetString());
        Assert.Equal("timed out", result.GetProperty("timedOut").GetProperty("output").GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task Workflow_ChildWorkflows_RunAsTheirOwnInstances_AndReturnToTheParent()
    {
        var result = await js.RunAsync("workflows.js", "childWorkflows");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        var parent = result.GetProperty("instanceId").GetString()!;
        var children = result.GetProperty("output").EnumerateArray().ToList();
        Assert.Equal([1, 4, 9], children.Select(c => c.GetProperty("squared").GetInt32()));
        // The SDK names children {parent}:{task id in hex}; each is an instance of its own, completed.
        Assert.Equal([parent + ":0001", parent + ":0002", parent + ":0003"], children.Select(c => c.GetProperty("child").GetString()));
        foreach (var child in result.GetProperty("children").EnumerateArray())
        {
            Assert.Equal("COMPLETED", child.GetProperty("status").GetString());
            Assert.Equal("COMPLETED", (await WorkflowAsync(child.GetProperty("instanceId").GetString()!)).Status);
        }
    }

    [Fact]
    public async Task Workflow_ContinueAsNew_RunsAFreshExecutionPerRound_WithTheNewInput()
    {
        var result = await js.RunAsync("workflows.js", "continueAsNew");

        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        Assert.Equal(3, result.GetProperty("output").GetProperty("rounds").GetInt32());
        Assert.Equal([1, 4, 9], result.GetProperty("output").GetProperty("seen").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["square:1", "square:2", "square:3"], Strings(result.GetProperty("activities")));
    }

    [Fact]
    public async Task Workflow_SuspendAndResume_HoldAnEventWhileSuspended_AndDeliverItAfter()
    {
        var result = await js.RunAsync("workflows.js", "suspendResume");

        Assert.Equal("SUSPENDED", result.GetProperty("suspended").GetString());
        Assert.Equal("SUSPENDED", result.GetProperty("afterEvent").GetString());
        Assert.Equal("COMPLETED", result.GetProperty("status").GetString());
        Assert.Equal("now", result.GetProperty("output").GetProperty("received").GetString());
        Assert.Equal("waiting for go", result.GetProperty("customStatus").GetString());
    }

    [Fact]
    public async Task Workflow_Terminate_EndsARunningWorkflow_WithTheGivenOutput()
    {
        var result = await js.RunAsync("workflows.js", "terminate");

        Assert.Equal("TERMINATED", result.GetProperty("status").GetString());
        Assert.Equal("stopped by the JS client", result.GetProperty("output").GetProperty("reason").GetString());
        Assert.Equal("TERMINATED", (await WorkflowAsync(result)).Status);
    }

    [Fact]
    public async Task Workflow_Purge_DeletesAFinishedWorkflow_AndRefusesARunningOne()
    {
        var result = await js.RunAsync("workflows.js", "purge");

        Assert.Equal("COMPLETED", result.GetProperty("finished").GetString());
        Assert.True(result.GetProperty("purged").GetBoolean());
        Assert.False(result.GetProperty("existsAfter").GetBoolean());
        Assert.False(result.GetProperty("purgedAgain").GetBoolean());
        Assert.True(result.GetProperty("runningRefused").GetBoolean());
        Assert.True(result.GetProperty("runningPurgedOnceEnded").GetBoolean());
        var gone = await js.Sidecar.Http.GetAsync($"/v1.0-beta1/workflows/dapr/{Uri.EscapeDataString(result.GetProperty("instanceId").GetString()!)}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Workflow_HttpWorkflowClient_StartsGetsPausesRaisesResumesTerminatesAndPurges()
    {
        var result = await js.RunAsync("workflows.js", "httpWorkflowApi");

        Assert.Equal(55, result.GetProperty("sum").GetProperty("sum").GetInt32());
        Assert.Equal("SUSPENDED", result.GetProperty("paused").GetString());
        Assert.Equal("json input", result.GetProperty("raised").GetProperty("input").GetProperty("note").GetString());
        Assert.Equal("http", result.GetProperty("raised").GetProperty("output").GetProperty("received").GetProperty("via").GetString());
        Assert.True(result.GetProperty("purged").GetBoolean());
        // The SDK sends a string input as plain text; it is kept as sent, as daprd keeps it.
        Assert.Equal("plain text", result.GetProperty("textInput").GetString());
    }

    [Fact]
    public async Task Workflow_FailingActivity_FailsTheWorkflowWithItsMessage_UnlessTheWorkflowCatchesIt()
    {
        var result = await js.RunAsync("workflows.js", "failures");

        Assert.Equal("FAILED", result.GetProperty("status").GetString());
        Assert.Contains("activity failed: boom", result.GetProperty("failure").GetString());
        Assert.Equal("COMPLETED", result.GetProperty("recovered").GetProperty("status").GetString());
        Assert.Equal("recovered from: bang", result.GetProperty("recovered").GetProperty("output").GetString());
        Assert.Equal("FAILED", (await WorkflowAsync(result)).Status);
    }

    // ---- actors ----

    [Fact]
    public async Task Actor_CallsAndState_AreKeptInTheActorStateStore()
    {
        var result = await js.RunAsync("actors.js", "callsAndState");

        Assert.Equal(5, result.GetProperty("first").GetInt32());
        Assert.Equal(12, result.GetProperty("second").GetInt32());
        Assert.Equal(12, result.GetProperty("count").GetInt32());
        Assert.Equal("ada", result.GetProperty("profile").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("missing").ValueKind);
        var id = result.GetProperty("actorId").GetString()!;
        Assert.Equal("12", await ActorStateAsync(id, "count"));
        Assert.Equal("""{"name":"ada","languages":["js","c#"],"active":true}""", await ActorStateAsync(id, "profile"));
    }

    [Fact]
    public async Task Actor_ConcurrentCallsToOneActor_RunOneTurnAtATime()
    {
        var result = await js.RunAsync("actors.js", "concurrentCalls");

        // 20 read-wait-write additions at once: none lost, and the app never saw two turns of the actor overlap.
        Assert.Equal(Enumerable.Range(1, 20), result.GetProperty("results").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(20, result.GetProperty("count").GetInt32());
        Assert.Equal(1, result.GetProperty("turns").GetProperty("max").GetInt32());
        Assert.Equal("20", await ActorStateAsync(result.GetProperty("actorId").GetString()!, "count"));
    }

    [Fact]
    public async Task Actor_FailingMethod_ReachesTheCaller_AsTheAppAnsweredIt()
    {
        var result = await js.RunAsync("actors.js", "failingCall");

        Assert.Equal(500, result.GetProperty("status").GetInt32());
        // What the JavaScript app itself sends for a thrown Error (an empty object), not a wrapper of the runtime's.
        Assert.Equal(JsonValueKind.Object, result.GetProperty("body").ValueKind);
        Assert.False(result.GetProperty("body").TryGetProperty("errorCode", out _));
    }

    [Fact]
    public async Task Actor_Reminder_FiresRepeatedly_WithItsData()
    {
        var result = await js.RunAsync("actors.js", "reminders");

        var fired = Strings(result.GetProperty("fired"));
        Assert.True(fired.Count >= 2);
        Assert.All(fired, data => Assert.Equal("ring", data));
        var stored = JsonDocument.Parse(await ActorStateAsync(result.GetProperty("actorId").GetString()!, "reminders")).RootElement;
        Assert.True(stored.GetArrayLength() >= 2);
    }

    [Fact]
    public async Task Actor_Timer_CallsItsCallbackRepeatedly_WithItsData()
    {
        var result = await js.RunAsync("actors.js", "timers");

        var ticks = Strings(result.GetProperty("ticks"));
        Assert.True(ticks.Count >= 2);
        Assert.All(ticks, data => Assert.Equal("tock", data));
    }

    // ---- state, pub/sub, invocation ----

    [Fact]
    public async Task State_SaveGetBulkEtagsTransactionsAndQuery_WorkThroughTheSdk()
    {
        var result = await js.RunAsync("blocks.js", "state");

        var keys = result.GetProperty("keys");
        var (a, b, c) = (keys.GetProperty("a").GetString()!, keys.GetProperty("b").GetString()!, keys.GetProperty("c").GetString()!);
        Assert.Equal(1, result.GetProperty("single").GetProperty("n").GetInt32());
        var bulk = result.GetProperty("bulk").EnumerateArray().ToDictionary(i => i.GetProperty("key").GetString()!, i => i.GetProperty("data"));
        Assert.Equal(1, bulk[a].GetProperty("n").GetInt32());
        Assert.Equal("plain text", bulk[b].GetString());
        Assert.Equal(3, bulk.Count);
        Assert.True(result.GetProperty("staleEtagRefused").GetBoolean());
        Assert.Equal(3, result.GetProperty("afterEtagSave").GetProperty("n").GetInt32());
        Assert.Equal([c], Strings(result.GetProperty("queried")));

        // Written by the JavaScript SDK, read by the .NET SDK through the same sidecar.
        Assert.Equal(3, (await js.Sidecar.Client.GetStateAsync<JsonElement>("statestore", a)).GetProperty("n").GetInt32());
        Assert.Equal("transaction", (await js.Sidecar.Client.GetStateAsync<JsonElement>("statestore", c)).GetProperty("from").GetString());
        Assert.Equal(JsonValueKind.Undefined, (await js.Sidecar.Client.GetStateAsync<JsonElement>("statestore", b)).ValueKind);
    }

    [Fact]
    public async Task PubSub_PublishedEvents_ReachTheAppsSubscription_AndARetryAnswerIsHonoured()
    {
        var result = await js.RunAsync("blocks.js", "publishSubscribe");

        var published = result.GetProperty("published").EnumerateArray().Select(e => e.GetProperty("orderId").GetString()).Order().ToList();
        var delivered = result.GetProperty("delivered").EnumerateArray().Select(e => e.GetProperty("orderId").GetString()).Order().ToList();
        Assert.Equal(published, delivered);
        // The subscriber answered RETRY to the first delivery and SUCCESS to the second.
        Assert.Equal(2, result.GetProperty("flakyAttempts").GetInt32());
    }

    [Fact]
    public async Task PubSub_BulkPublish_DeliversEveryEntry_ToPlainAndBulkSubscribers()
    {
        var result = await js.RunAsync("blocks.js", "bulkPublish");

        Assert.Equal([1, 2, 3], result.GetProperty("delivered").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(Enumerable.Range(1, 7), result.GetProperty("bulkDelivered").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Invocation_PassesBodyQueryAndHeaders_ToTheAppsMethod()
    {
        var result = await js.RunAsync("blocks.js", "invocation");

        var answer = result.GetProperty("answer");
        Assert.Equal("from js", answer.GetProperty("body").GetProperty("hello").GetString());
        Assert.Equal("/echo?source=js", answer.GetProperty("query").GetString());
        Assert.Equal("yes", answer.GetProperty("header").GetString());
    }

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>The instance as the sidecar's HTTP workflow API reports it: status and raw output.</summary>
    private Task<(string Status, string? Output)> WorkflowAsync(JsonElement result) => WorkflowAsync(result.GetProperty("instanceId").GetString()!);

    private async Task<(string Status, string? Output)> WorkflowAsync(string instanceId)
    {
        var state = JsonDocument.Parse(await js.Sidecar.Http.GetStringAsync($"/v1.0-beta1/workflows/dapr/{Uri.EscapeDataString(instanceId)}")).RootElement;
        var output = state.GetProperty("properties").TryGetProperty("dapr.workflow.output", out var o) ? o.GetString() : null;
        return (state.GetProperty("runtimeStatus").GetString()!, output);
    }

    private Task<string> ActorStateAsync(string actorId, string key) =>
        js.Sidecar.Http.GetStringAsync($"/v1.0/actors/Counter/{Uri.EscapeDataString(actorId)}/state/{key}");
}
