using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Workflow;
using Dapr.Workflow.Client;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>The workflow patterns of the Dapr docs, driven through <see cref="DaprWorkflowClient"/> against the local
/// runtime's backend, on a file store and a server store.</summary>
public sealed class WorkflowPatternTests
{
    public static TheoryData<string> Stores => new() { "sqlite", "redis" };

    [Theory, MemberData(nameof(Stores))]
    public async Task Chaining_RunsActivitiesInOrder_EachOnce(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("Chain", input: "chain");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("abc", state.ReadOutputAs<string>());
        Assert.All(new[] { "chain-a", "chain-b", "chain-c" }, key => Assert.Equal(1, env.App.Log.Count(key)));
        var history = await env.Client.GetInstanceHistoryAsync(id);
        Assert.Equal(3, history.Count(e => e.EventType == WorkflowHistoryEventType.TaskScheduled));
        Assert.Equal(3, history.Count(e => e.EventType == WorkflowHistoryEventType.TaskCompleted));
        Assert.Equal(WorkflowHistoryEventType.ExecutionCompleted, history[^1].EventType);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task FanOutFanIn_OfHundredActivities_SumsEveryResult(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("FanOut", input: 100);
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal(Enumerable.Range(0, 100).Sum(i => i * i), state.ReadOutputAs<int>());
        Assert.All(Enumerable.Range(0, 100), i => Assert.Equal(1, env.App.Log.Count("square-" + i)));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task RetryPolicy_RetriesAFailingActivityWithBackoff_UntilItSucceeds(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("Retry", input: "flaky");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("ok after 3", state.ReadOutputAs<string>());
        Assert.Equal(3, env.App.Log.Count("flaky"));
        // Two failed attempts, each followed by a durable backoff timer.
        var history = await env.Client.GetInstanceHistoryAsync(id);
        Assert.Equal(2, history.Count(e => e.EventType == WorkflowHistoryEventType.TaskFailed));
        Assert.Equal(2, history.Count(e => e.EventType == WorkflowHistoryEventType.TimerFired));
    }

    [Fact]
    public async Task IsPatched_AnswersTheSameOnReplay_AsWhenTheCodeFirstRan()
    {
        await using var env = await WorkflowEnvironment.StartAsync("sqlite");

        var id = await env.Client.ScheduleNewWorkflowAsync("Patched", input: "patch");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        // The last turn replays the first: without the patch kept in history, the replay would answer False.
        Assert.Equal("True/True", state.ReadOutputAs<string>());
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task DurableTimer_FiresAfterItsTime(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("Timer", input: 500);
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.True(state.ReadOutputAs<bool>(), "the workflow resumed at a time before the timer's fire time");
        var history = await env.Client.GetInstanceHistoryAsync(id);
        Assert.Single(history, e => e.EventType == WorkflowHistoryEventType.TimerCreated);
        Assert.Single(history, e => e.EventType == WorkflowHistoryEventType.TimerFired);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ScheduledStart_FirstStepRunsNoEarlierThanTheStartTime(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var startAt = DateTimeOffset.UtcNow.AddMilliseconds(700);

        var id = await env.Client.ScheduleNewWorkflowAsync("Chain", null, "later", startAt);
        var state = await env.CompletionAsync(id);

        Assert.Equal("abc", state.ReadOutputAs<string>());
        var history = await env.Client.GetInstanceHistoryAsync(id);
        var firstStep = history.First(e => e.EventType == WorkflowHistoryEventType.OrchestratorStarted);
        Assert.True(firstStep.Timestamp >= startAt.UtcDateTime, $"first step at {firstStep.Timestamp:O}, scheduled for {startAt:O}");
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ExternalEvent_WithoutTimeout_IsDelivered_AndItsNeverFiringTimerStaysUnfired(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("AwaitEvent", input: "approval");
        await env.Client.WaitForWorkflowStartAsync(id);
        await Eventually.True(async () => (await env.Client.GetInstanceHistoryAsync(id)).Any(e => e.EventType == WorkflowHistoryEventType.TimerCreated),
            "the workflow to wait for its event");
        await env.Client.RaiseEventAsync(id, "approval", "granted");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("granted", state.ReadOutputAs<string>());
        var history = await env.Client.GetInstanceHistoryAsync(id);
        Assert.Contains(history, e => e.EventType == WorkflowHistoryEventType.EventRaised);
        Assert.DoesNotContain(history, e => e.EventType == WorkflowHistoryEventType.TimerFired);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ExternalEvent_WithTimeout_TimesOutWhenNothingIsRaised_AndIsTakenWhenRaised(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var timedOut = await env.Client.ScheduleNewWorkflowAsync("AwaitEventWithTimeout", input: 300);
        Assert.Equal("timed out", (await env.CompletionAsync(timedOut)).ReadOutputAs<string>());

        var raised = await env.Client.ScheduleNewWorkflowAsync("AwaitEventWithTimeout", input: 60_000);
        await env.Client.RaiseEventAsync(raised, "approval", "in time");
        var state = await env.CompletionAsync(raised);
        Assert.Equal("in time", state.ReadOutputAs<string>());
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ChildWorkflow_RunsAsItsOwnInstance_AndReturnsToTheParent(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("Parent", input: "kid");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("parent:abc", state.ReadOutputAs<string>());
        var child = await env.Client.GetWorkflowStateAsync(id + "-child");
        Assert.Equal(WorkflowRuntimeStatus.Completed, child.RuntimeStatus);
        Assert.Equal("Chain", child.WorkflowName);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ContinueAsNew_StartsOverWithNewInput_AndCarriesUnreadEventsOver(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);

        var id = await env.Client.ScheduleNewWorkflowAsync("Accumulate", input: new[] { 0, 0 });
        foreach (var n in new[] { 1, 2, 3 })
        {
            await env.Client.RaiseEventAsync(id, "add", n);
        }
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal(6, state.ReadOutputAs<int>());
        Assert.Equal(new[] { 3, 2 }, state.ReadInputAs<int[]>());
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task SuspendedWorkflow_HoldsItsEvents_UntilResumed(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var id = await env.Client.ScheduleNewWorkflowAsync("AwaitEvent", input: "go");
        await env.Client.WaitForWorkflowStartAsync(id);

        await env.Client.SuspendWorkflowAsync(id, "maintenance");
        Assert.Equal(WorkflowRuntimeStatus.Suspended, (await env.Client.GetWorkflowStateAsync(id)).RuntimeStatus);
        await env.Client.RaiseEventAsync(id, "go", "after resume");
        Assert.Equal(WorkflowRuntimeStatus.Suspended, (await env.Client.GetWorkflowStateAsync(id)).RuntimeStatus);

        await env.Client.ResumeWorkflowAsync(id, "done");
        var state = await env.CompletionAsync(id);
        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("after resume", state.ReadOutputAs<string>());
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Terminate_EndsTheWorkflowAndItsChildren(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var id = await env.Client.ScheduleNewWorkflowAsync("ParentOfWaiter", input: "never");
        await Eventually.True(async () => (await env.Client.GetWorkflowStateAsync(id + "-child")).RuntimeStatus == WorkflowRuntimeStatus.Running,
            "the child workflow to run");

        await env.Client.TerminateWorkflowAsync(id, "stopped by test");
        var state = await env.CompletionAsync(id);

        Assert.Equal(WorkflowRuntimeStatus.Terminated, state.RuntimeStatus);
        Assert.Equal("stopped by test", state.ReadOutputAs<string>());
        Assert.Equal(WorkflowRuntimeStatus.Terminated, (await env.CompletionAsync(id + "-child")).RuntimeStatus);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Purge_DeletesAFinishedWorkflowAndItsChildren_ButRefusesARunningOne(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var running = await env.Client.ScheduleNewWorkflowAsync("AwaitEvent", input: "never");
        await env.Client.WaitForWorkflowStartAsync(running);

        var refused = await Assert.ThrowsAsync<RpcException>(() => env.Client.PurgeInstanceAsync(running));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.True((await env.Client.GetWorkflowStateAsync(running)).Exists);

        var finished = await env.Client.ScheduleNewWorkflowAsync("Parent", input: "purged");
        await env.CompletionAsync(finished);
        Assert.True(await env.Client.PurgeInstanceAsync(finished));
        Assert.False((await env.Client.GetWorkflowStateAsync(finished)).Exists);
        Assert.False((await env.Client.GetWorkflowStateAsync(finished + "-child")).Exists);
        Assert.False(await env.Client.PurgeInstanceAsync(finished));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ListInstanceIds_PagesThroughEveryInstance(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var started = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            started.Add(await env.Client.ScheduleNewWorkflowAsync("Chain", instanceId: $"list-{i}", input: $"list{i}"));
        }

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await env.Client.ListInstanceIdsAsync(token, pageSize: 2);
            Assert.True(page.InstanceIds.Count <= 2);
            seen.AddRange(page.InstanceIds);
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(started.Order(StringComparer.Ordinal), seen);
    }
}
