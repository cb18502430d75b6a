using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Workflow;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>Workflows outlive a kill -9 of the runtime and the loss of the app's worker.</summary>
public sealed class WorkflowDurabilityTests
{
    public static TheoryData<string> Stores => new() { "sqlite", "postgresql" };

    [Theory, MemberData(nameof(Stores))]
    public async Task Kill9OfTheRuntimeMidActivity_WorkflowFinishesAfterRestart_WithoutRerunningCompletedActivities(string store)
    {
        using var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        var appId = TestServers.NewId("wfkill");
        int httpPort = TestSidecar.FreePort(), grpcPort = TestSidecar.FreePort();
        var log = new ActivityLog();
        var gate = log.Gate("k-2");
        // The app stays up while its runtime dies; its worker must reconnect to the restarted runtime.
        await using var app = await WorkflowTestApp.StartAsync(grpcPort, httpPort, log);
        string id;

        await using (var first = await RuntimeProcess.StartAsync(appId, folder.Path, null, httpPort, grpcPort))
        {
            id = await app.Client.ScheduleNewWorkflowAsync("Gates", input: "k");
            await Eventually.True(() => log.Count("k-2") == 1, "the second activity to start", 60);
            await first.KillAsync();
        }

        await using var second = await RuntimeProcess.StartAsync(appId, folder.Path, null, httpPort, grpcPort);
        // The activity that was running when the runtime died finishes now; it or its redelivery completes the step.
        gate.SetResult();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var state = await WaitThroughRestartAsync(app.Client, id, limit.Token);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("k-1,k-2,k-3", state.ReadOutputAs<string>());
        Assert.Equal(1, log.Count("k-1"));
        Assert.InRange(log.Count("k-2"), 1, 2);
        Assert.Equal(1, log.Count("k-3"));
    }

    [Theory, InlineData("sqlite"), InlineData("redis")]
    public async Task WorkerThatDisconnectsMidActivity_ItsWorkItemIsRedeliveredToTheNextWorker(string store)
    {
        using var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wfredo"), folder.Path);
        var firstLog = new ActivityLog();
        firstLog.Gate("r-1"); // never opened: the first worker goes away holding this activity
        var first = await WorkflowTestApp.StartAsync(sidecar, firstLog);
        var id = await first.Client.ScheduleNewWorkflowAsync("Gates", input: "r");
        await Eventually.True(() => firstLog.Count("r-1") == 1, "the first worker to start the activity");

        await first.DisposeAsync();
        await using var next = await WorkflowTestApp.StartAsync(sidecar);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var state = await next.Client.WaitForWorkflowCompletionAsync(id, cancellation: limit.Token);

        Assert.Equal(WorkflowRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.Equal("r-1,r-2,r-3", state.ReadOutputAs<string>());
        Assert.Equal(1, next.Log.Count("r-1"));
        Assert.Equal(0, firstLog.Count("r-2"));
    }

    [Fact]
    public async Task WorkflowStartedWhileNoWorkerIsConnected_RunsWhenOneConnects()
    {
        using var folder = new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wflate"), folder.Path);
        var starter = await WorkflowTestApp.StartAsync(sidecar);
        await starter.DisposeAsync(); // only to get a client that then has no worker behind it
        var id = "late-" + Guid.NewGuid().ToString("N");
        var start = await sidecar.Http.PostAsync($"/v1.0/workflows/dapr/Chain/start?instanceID={id}", new StringContent("\"late\""));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, start.StatusCode);

        await using var app = await WorkflowTestApp.StartAsync(sidecar);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var state = await app.Client.WaitForWorkflowCompletionAsync(id, cancellation: limit.Token);
        Assert.Equal("abc", state.ReadOutputAs<string>());
    }

    /// <summary>The client's wait call breaks when the runtime dies; ask again until the restarted one answers.</summary>
    private static async Task<WorkflowState> WaitThroughRestartAsync(DaprWorkflowClient client, string id, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await client.WaitForWorkflowCompletionAsync(id, cancellation: ct);
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.Internal && !ct.IsCancellationRequested)
            {
                await Task.Delay(200, ct);
            }
        }
    }
}
