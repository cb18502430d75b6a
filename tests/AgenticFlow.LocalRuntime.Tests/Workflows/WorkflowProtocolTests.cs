using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.DurableTask.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>The durabletask wire contract, driven by a hand-written worker instead of the SDK.</summary>
public sealed class WorkflowProtocolTests
{
    [Fact]
    public async Task WorkerThatDeclaresHealthPings_ReceivesThemOnItsStream()
    {
        using var folder = new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wfping"), folder.Path);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");
        var client = new TaskHubSidecarService.TaskHubSidecarServiceClient(channel);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        using var stream = client.GetWorkItems(new GetWorkItemsRequest { Capabilities = { WorkerCapability.HealthPing } }, cancellationToken: limit.Token);

        Assert.True(await stream.ResponseStream.MoveNext(limit.Token));
        Assert.Equal(WorkItem.RequestOneofCase.HealthPing, stream.ResponseStream.Current.RequestCase);
    }

    [Fact]
    public async Task WorkItems_CarryTheHistory_AreRedeliveredAfterADisconnect_AndTakeEachCompletionOnce()
    {
        using var folder = new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore);
        var appId = TestServers.NewId("wfwire");
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");
        var client = new TaskHubSidecarService.TaskHubSidecarServiceClient(channel);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var id = "wire-" + Guid.NewGuid().ToString("N");
        await client.StartInstanceAsync(new CreateInstanceRequest { InstanceId = id, Name = "Raw", Input = "\"in\"" }, cancellationToken: limit.Token);

        // First step: an OrchestratorStarted and the ExecutionStarted, no past events, stamped with the app id.
        var first = client.GetWorkItems(new GetWorkItemsRequest(), cancellationToken: limit.Token);
        var step = (await NextAsync(first, limit.Token)).WorkflowRequest;
        Assert.Empty(step.PastEvents);
        Assert.NotNull(step.NewEvents[0].WorkflowStarted);
        Assert.Equal("Raw", step.NewEvents[1].ExecutionStarted.Name);
        Assert.Equal("\"in\"", step.NewEvents[1].ExecutionStarted.Input);
        Assert.Equal(appId, step.NewEvents[1].Router.SourceAppID);
        var stepToken = (await CompleteStepAsync(client, id, first, limit.Token, new WorkflowAction { Id = 0, ScheduleTask = new ScheduleTaskAction { Name = "Act", Input = "1" } })).CompletionToken;

        var activity = await NextAsync(first, limit.Token);
        Assert.Equal("Act", activity.ActivityRequest.Name);
        Assert.Equal(0, activity.ActivityRequest.TaskId);

        // The first worker goes away holding the activity: the next worker gets it.
        first.Dispose();
        using var second = client.GetWorkItems(new GetWorkItemsRequest(), cancellationToken: limit.Token);
        var again = await NextAsync(second, limit.Token);
        Assert.Equal("Act", again.ActivityRequest.Name);
        Assert.NotEqual(activity.CompletionToken, again.CompletionToken);

        await client.CompleteActivityTaskAsync(new ActivityResponse { InstanceId = id, TaskId = 0, Result = "\"fresh\"", CompletionToken = again.CompletionToken }, cancellationToken: limit.Token);
        // The first delivery's late answer and a repeated answer are both ignored.
        await client.CompleteActivityTaskAsync(new ActivityResponse { InstanceId = id, TaskId = 0, Result = "\"stale\"", CompletionToken = activity.CompletionToken }, cancellationToken: limit.Token);
        await client.CompleteActivityTaskAsync(new ActivityResponse { InstanceId = id, TaskId = 0, Result = "\"twice\"", CompletionToken = again.CompletionToken }, cancellationToken: limit.Token);

        var next = (await NextAsync(second, limit.Token)).WorkflowRequest;
        Assert.Contains(next.PastEvents, e => e.EventId == 0 && e.TaskScheduled?.Name == "Act");
        var result = Assert.Single(next.NewEvents, e => e.TaskCompleted is not null);
        Assert.Equal(0, result.TaskCompleted.TaskScheduledId);
        Assert.Equal("\"fresh\"", result.TaskCompleted.Result);

        var done = new WorkflowAction { Id = 1, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.Completed, Result = "\"done\"" } };
        var finalStep = await CompleteStepAsync(client, id, second, limit.Token, done);
        // A step answered twice, or with an old token, changes nothing.
        await client.CompleteWorkflowTaskAsync(finalStep, cancellationToken: limit.Token);
        await client.CompleteWorkflowTaskAsync(new WorkflowResponse { InstanceId = id, CompletionToken = stepToken }, cancellationToken: limit.Token);

        var state = (await client.GetInstanceAsync(new GetInstanceRequest { InstanceId = id, GetInputsAndOutputs = true }, cancellationToken: limit.Token)).WorkflowState;
        Assert.Equal(OrchestrationStatus.Completed, state.WorkflowStatus);
        Assert.Equal("\"done\"", state.Output);
        var history = (await client.GetInstanceHistoryAsync(new GetInstanceHistoryRequest { InstanceId = id }, cancellationToken: limit.Token)).Events;
        Assert.Single(history, e => e.TaskCompleted is not null);
        Assert.Single(history, e => e.ExecutionCompleted is not null);
    }

    [Fact]
    public async Task UnknownInstance_AnswersNotFoundOrDoesNotExist()
    {
        using var folder = new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wfnone"), folder.Path);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");
        var client = new TaskHubSidecarService.TaskHubSidecarServiceClient(channel);

        Assert.False((await client.GetInstanceAsync(new GetInstanceRequest { InstanceId = "nobody" })).Exists);
        var raise = await Assert.ThrowsAsync<RpcException>(async () => await client.RaiseEventAsync(new RaiseEventRequest { InstanceId = "nobody", Name = "e" }));
        Assert.Equal(StatusCode.NotFound, raise.StatusCode);
        var start = await Assert.ThrowsAsync<RpcException>(async () => await client.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "has space", Name = "Raw" }));
        Assert.Equal(StatusCode.InvalidArgument, start.StatusCode);
    }

    private static async Task<WorkItem> NextAsync(AsyncServerStreamingCall<WorkItem> stream, CancellationToken ct)
    {
        Assert.True(await stream.ResponseStream.MoveNext(ct), "the work item stream ended");
        return stream.ResponseStream.Current;
    }

    private static async Task<WorkflowResponse> CompleteStepAsync(TaskHubSidecarService.TaskHubSidecarServiceClient client, string id,
        AsyncServerStreamingCall<WorkItem> stream, CancellationToken ct, params WorkflowAction[] actions)
    {
        var response = new WorkflowResponse { InstanceId = id, CompletionToken = stream.ResponseStream.Current.CompletionToken };
        response.Actions.AddRange(actions);
        await client.CompleteWorkflowTaskAsync(response, cancellationToken: ct);
        return response;
    }
}
