using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Workflows;

/// <summary>Triggers, agent tasks, sub-workflows, suspend/resume and versions, end to end (a platform of its own).</summary>
public sealed class WorkflowTriggersTests(WorkflowsPlatform fixture) : IClassFixture<WorkflowsPlatform>
{
    private WorkflowsClient Api => fixture.Api;

    private async Task<List<JsonElement>> RunsAsync(string id, string? status = null) =>
        (await Api.JsonAsync(HttpMethod.Get, $"/api/v1/workflows/{id}/runs?limit=100" + (status is null ? "" : "&status=" + status), key: WorkflowsClient.Viewer))
            .GetProperty("items").EnumerateArray().ToList();

    private Task PublishAsync(string topic, object data, string eventId) =>
        fixture.Platform.Sidecars["messaging"].Client.PublishEventAsync("pubsub", topic, data, new Dictionary<string, string> { ["cloudevent.id"] = eventId });

    [Fact]
    public async Task EventTrigger_DeliveredTwice_StartsOneRun_AndItsFilterIsApplied()
    {
        var id = await Api.DefineAsync(new
        {
            name = "on-order",
            triggers = new object[] { new { kind = "event", topic = WorkflowsPlatform.TriggerTopic, filter = "event.data.total > 10", input = new { order = "${event.data.order}" } } },
            steps = new object[] { WorkflowsClient.Send("note", "trigger-work", new { order = "${input.order}" }) },
        });
        await PublishAsync(WorkflowsPlatform.TriggerTopic, new { order = "o-1", total = 50 }, "order-event-1");
        await PublishAsync(WorkflowsPlatform.TriggerTopic, new { order = "o-1", total = 50 }, "order-event-1");
        await PublishAsync(WorkflowsPlatform.TriggerTopic, new { order = "o-small", total = 5 }, "order-event-2");
        await PublishAsync(WorkflowsPlatform.TriggerTopic, new { order = "o-1", total = 50 }, "order-event-1");
        await PublishAsync(WorkflowsPlatform.TriggerTopic, new { order = "o-3", total = 99 }, "order-event-3");

        List<JsonElement> runs = [];
        await Eventually.True(async () => (runs = await RunsAsync(id, "completed")).Count >= 2, "two triggered runs completed", 90);
        var bodies = await Api.DrainAsync("trigger-work", 2);
        Assert.Equal(["o-1", "o-3"], bodies.Select(b => b.GetProperty("order").GetString()).Order());
        Assert.Equal(2, (await RunsAsync(id)).Count);
        Assert.All(runs, r => Assert.Equal("event", r.GetProperty("trigger").GetString()));
        Assert.Equal(0, await Api.DepthAsync("trigger-work"));
    }

    [Fact]
    public async Task CronTrigger_StartsRuns_UntilItsVersionsTriggersAreTurnedOff()
    {
        var id = await Api.DefineAsync(new
        {
            name = "every-two-seconds",
            triggers = new object[] { new { kind = "schedule", cron = "*/2 * * * * *", input = new { tick = "${event.tick}" } } },
            steps = new object[] { new { id = "tick", kind = "delay", seconds = 0 } },
        });
        await Eventually.True(async () => (await RunsAsync(id, "completed")).Count >= 2, "two scheduled runs", 90);
        var runs = await RunsAsync(id);
        Assert.All(runs, r => Assert.Equal("schedule", r.GetProperty("trigger").GetString()));
        Assert.Equal(runs.Count, runs.Select(r => r.GetProperty("runId").GetString()).Distinct().Count());

        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{id}/versions/1/triggers", new { enabled = false });
        var stopped = (await RunsAsync(id)).Count;
        // Off means no new tick starts a run: one more run at most was already being started when it was switched.
        await Api.ExecuteAsync(id);
        await Eventually.True(async () => (await RunsAsync(id)).Count(r => r.GetProperty("trigger").GetString() == "manual") == 1, "the manual run", 60);
        var schedules = (await RunsAsync(id)).Count(r => r.GetProperty("trigger").GetString() == "schedule");
        Assert.InRange(schedules, stopped, stopped + 1);
    }

    [Fact]
    public async Task AgentTask_GoesThroughCoordination_AndWaitsForTheAgentsResult()
    {
        await Api.Coordination.RegisterAsync("a1", capabilities: ("triage", 0.9));
        var teamId = await Api.Coordination.FormAsync(new { name = "wf-team", members = new[] { "a1" } });
        var id = await Api.DefineAsync(new
        {
            name = "triage",
            steps = new object[]
            {
                new { id = "triage", kind = "agent-task", team = teamId, description = "Triage ${input.ticket}", input = new { ticket = "${input.ticket}" }, requiredCapabilities = new[] { "triage" } },
                new { id = "decide", kind = "condition", @if = "steps.triage.output.severity == 'high'", then = new object[] { WorkflowsClient.Send("page", "wf-oncall", new { ticket = "${input.ticket}" }) } },
            },
        });
        var runId = await Api.ExecuteAsync(id, new { ticket = "T-9" });
        var work = Assert.Single(await Api.Coordination.TakeWorkAsync("a1", "task.assigned"));
        var taskId = work.GetProperty("taskId").GetString()!;
        Assert.Equal("Triage T-9", work.GetProperty("description").GetString());
        await Api.WaitForStepAsync(runId, "triage", "waiting");

        // The agent of the task may raise events on the run; another agent may not.
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/note", new { text = "looking" }, HttpStatusCode.Forbidden, "dev-agent-a2-key");
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/note", new { text = "looking" }, HttpStatusCode.Accepted, "dev-agent-a1-key");

        using var reported = await Api.Coordination.ReportAsync("a1", taskId, output: new { severity = "high" });
        Assert.True(reported.IsSuccessStatusCode, await reported.Content.ReadAsStringAsync());
        var status = await Api.WaitForEndAsync(runId);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        var triage = WorkflowsClient.Step(status, "triage")!.Value;
        Assert.Equal(taskId, triage.GetProperty("taskId").GetString());
        Assert.Equal("high", triage.GetProperty("output").GetProperty("severity").GetString());
        Assert.Equal("T-9", Assert.Single(await Api.DrainAsync("wf-oncall", 1)).GetProperty("ticket").GetString());
    }

    [Fact]
    public async Task SubWorkflow_RunsAnotherDefinition_AndRunCompletedEventsChainWorkflows()
    {
        var child = await Api.DefineAsync(new
        {
            name = "child",
            inputs = new { type = "object", required = new[] { "who" } },
            steps = new object[] { WorkflowsClient.Send("greet", "wf-child", new { hello = "${input.who}" }) },
            output = new { greeted = "${input.who}" },
        });
        var parent = await Api.DefineAsync(new
        {
            name = "parent",
            steps = new object[] { new { id = "call", kind = "sub-workflow", workflow = child, input = new { who = "${input.name}" } } },
            output = "${steps.call.output.greeted}",
        });
        // Chaining: a third definition starts whenever a parent run completes (run events on pub/sub).
        var chained = await Api.DefineAsync(new
        {
            name = "after-parent",
            triggers = new object[] { new { kind = "event", topic = "workflows.run-completed", filter = $"event.data.definitionId == '{parent}'", input = new { from = "${event.data.runId}" } } },
            steps = new object[] { WorkflowsClient.Send("log", "wf-chain", new { from = "${input.from}" }) },
        });
        var runId = await Api.ExecuteAsync(parent, new { name = "Ada" });
        var status = await Api.WaitForEndAsync(runId);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        Assert.Equal("Ada", status.GetProperty("output").GetString());
        Assert.Equal("Ada", Assert.Single(await Api.DrainAsync("wf-child", 1)).GetProperty("hello").GetString());
        var childRuns = await RunsAsync(child);
        Assert.Equal("sub-workflow", Assert.Single(childRuns).GetProperty("trigger").GetString());
        Assert.Equal(runId, Assert.Single(await Api.DrainAsync("wf-chain", 1)).GetProperty("from").GetString());
        await Eventually.True(async () => (await RunsAsync(chained, "completed")).Count == 1, "the chained run", 60);
    }

    [Fact]
    public async Task SuspendResume_AndANewVersion_LeaveRunningRunsOnTheirOwnVersion()
    {
        object Definition(string label) => new
        {
            id = "versioned-" + fixture.GetHashCode(),
            name = "versioned",
            steps = new object[]
            {
                new { id = "hold", kind = "wait-for-event", @event = "go" },
                WorkflowsClient.Send("mark", "wf-versions", new { label }),
            },
        };
        var id = await Api.DefineAsync(Definition("v1"));
        var runId = await Api.ExecuteAsync(id);
        await Api.WaitForStepAsync(runId, "hold", "waiting");
        var updated = await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{id}", Definition("v2"));
        Assert.Equal(2, updated.GetProperty("version").GetInt32());

        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{runId}/suspend", expected: HttpStatusCode.Accepted);
        await Api.WaitAsync(runId, s => s.GetProperty("status").GetString() == "suspended", "suspended");
        Assert.Single(await RunsAsync(id, "suspended"));
        await Api.JsonAsync(HttpMethod.Put, $"/api/v1/workflows/{runId}/resume", expected: HttpStatusCode.Accepted);
        await Api.WaitAsync(runId, s => s.GetProperty("status").GetString() == "running", "running again");

        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/go", new { approved = true }, HttpStatusCode.Accepted);
        var status = await Api.WaitForEndAsync(runId);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        Assert.Equal(1, status.GetProperty("version").GetInt32());
        Assert.Equal("v1", Assert.Single(await Api.DrainAsync("wf-versions", 1)).GetProperty("label").GetString());

        var second = await Api.ExecuteAsync(id);
        await Api.WaitForStepAsync(second, "hold", "waiting");
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{second}/events/go", new { }, HttpStatusCode.Accepted);
        Assert.Equal(2, (await Api.WaitForEndAsync(second)).GetProperty("version").GetInt32());
        Assert.Equal("v2", Assert.Single(await Api.DrainAsync("wf-versions", 1)).GetProperty("label").GetString());

        var listed = await Api.JsonAsync(HttpMethod.Get, "/api/v1/workflows?limit=500", key: WorkflowsClient.Viewer);
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), d => d.GetProperty("id").GetString() == id && d.GetProperty("latestVersion").GetInt32() == 2);
    }

    /// <summary>The README's walkthrough as written: an llm step, an agent-task to a team of an llm agent, a parallel
    /// block and an approval; approved by event; its status shows every step.</summary>
    [Fact]
    public async Task ReadmeWalkthrough_RunsToCompletionOnceApproved()
    {
        await Api.Coordination.JsonAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id = "reviewer", name = "Reviewer", kind = "llm", capabilities = new[] { new { name = "review", proficiency = 0.9 } },
            llm = new { model = "local-echo", systemPrompt = "You review replies." },
        }, HttpStatusCode.Created);
        var teamId = await Api.Coordination.FormAsync(new { name = "reviewers", members = new[] { "reviewer" } });
        var definition = """
            {"id":"support-reply","name":"review","inputs":{"type":"object","required":["ticket"]},
             "steps":[
               {"id":"draft","kind":"llm","prompt":"Draft a reply to ${input.ticket}"},
               {"id":"review","kind":"agent-task","team":"TEAM","description":"Review this draft: ${steps.draft.output}","input":{"draft":"${steps.draft.output}"}},
               {"id":"checks","kind":"parallel","join":"all","branches":[
                  [{"id":"tone","kind":"llm","prompt":"Rate the tone of: ${steps.draft.output}"}],
                  [{"id":"facts","kind":"llm","prompt":"List the facts in: ${steps.draft.output}"}]]},
               {"id":"approve","kind":"wait-for-event","event":"approval","timeoutSeconds":3600},
               {"id":"send","kind":"publish","topic":"replies","data":{"ticket":"${input.ticket}","reply":"${steps.draft.output}"},"when":"steps.approve.output.approved"}]}
            """.Replace("TEAM", teamId);
        using var created = await fixture.Platform.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflows")
        {
            Headers = { { "X-Api-Key", WorkflowsClient.Operator } },
            Content = new StringContent(definition, System.Text.Encoding.UTF8, "application/json"),
        });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var runId = await Api.ExecuteAsync("support-reply", new { ticket = "My invoice is wrong" });
        await Api.WaitForStepAsync(runId, "approve", "waiting", 120);
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/approval", new { approved = true, comment = "looks good" }, HttpStatusCode.Accepted);
        var status = await Api.WaitForEndAsync(runId);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        foreach (var path in new[] { "draft", "review", "checks", "tone", "facts", "approve", "send" })
        {
            Assert.Equal("completed", WorkflowsClient.Step(status, path)!.Value.GetProperty("status").GetString());
        }
        Assert.Equal(2, WorkflowsClient.Step(status, "checks")!.Value.GetProperty("output").GetArrayLength());
    }
}
