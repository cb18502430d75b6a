using System.Net;
using System.Text;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Workflow;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>Two replicas of one workflow app, each with its sidecar: the longest-running sidecar runs the app's
/// workflows, the other passes calls and its worker's stream on to it, and takes over when it stops.</summary>
public sealed class WorkflowReplicaTests
{
    [Theory, InlineData("sqlite"), InlineData("redis")]
    public async Task Replicas_ShareOneBackend_AndTheSecondTakesOverWhenTheFirstStops(string store)
    {
        using var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        var names = new NameRegistry(Path.Combine(folder.Path, "names"));
        var appId = TestServers.NewId("wfreplicas");
        var first = await TestSidecar.StartAsync(appId, folder.Path, instanceId: "a", names: names);
        await using var second = await TestSidecar.StartAsync(appId, folder.Path, instanceId: "b", names: names);
        var firstLog = new ActivityLog();
        var secondLog = new ActivityLog();
        var firstApp = await WorkflowTestApp.StartAsync(first, firstLog);
        await using var secondApp = await WorkflowTestApp.StartAsync(second, secondLog);
        // Both sidecars must see each other before the second may pass calls on (the registry is re-read each second).
        await Eventually.True(() => second.Sidecar.WorkflowLeader()?.InstanceId == "a" && first.Sidecar.WorkflowLeader() is null, "the replicas to agree on the first");

        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await secondApp.Client.ScheduleNewWorkflowAsync("Chain", input: $"r{i}"));
        }
        foreach (var id in ids)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var done = await secondApp.Client.WaitForWorkflowCompletionAsync(id, cancellation: limit.Token);
            Assert.Equal(WorkflowRuntimeStatus.Completed, done.RuntimeStatus);
        }
        // Every activity ran once, on whichever replica's worker took it.
        Assert.All(Enumerable.Range(0, 10).SelectMany(i => new[] { $"r{i}-a", $"r{i}-b", $"r{i}-c" }),
            key => Assert.Equal(1, firstLog.Count(key) + secondLog.Count(key)));
        // The HTTP API of the second replica answers for instances the first one runs.
        var viaHttp = await second.Http.GetStringAsync($"/v1.0/workflows/dapr/{ids[0]}");
        Assert.Contains("COMPLETED", viaHttp);

        // A workflow waits for an event while the first replica (app and sidecar) stops; the second takes over.
        var waiting = await secondApp.Client.ScheduleNewWorkflowAsync("AwaitEvent", input: "go");
        await Eventually.True(async () => (await secondApp.Client.GetWorkflowStateAsync(waiting))?.RuntimeStatus == WorkflowRuntimeStatus.Running, "the waiting workflow to run");
        await firstApp.DisposeAsync();
        await first.DisposeAsync();
        await Eventually.True(() => second.Sidecar.WorkflowLeader() is null, "the second replica to lead");

        var raised = await second.Http.PostAsync($"/v1.0/workflows/dapr/{waiting}/raiseEvent/go", new StringContent("\"after failover\"", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, raised.StatusCode);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var state = await secondApp.Client.WaitForWorkflowCompletionAsync(waiting, cancellation: wait.Token);
        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("after failover", state.ReadOutputAs<string>());
    }
}
