using System.Threading.Channels;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Workflows;
using Dapr.DurableTask.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>The engine driven directly, by a hand-written worker, on an in-memory store that can be made to fail.</summary>
public sealed class WorkflowEngineTests
{
    [Fact]
    public async Task ChildResultThatCannotBeStoredForTheParent_IsNotLost_TheChildStepRunsAgainOnceTheStoreIsBack()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "p", Name = "Parent" }, env.Limit);
        var parentStep = await env.NextAsync();
        await env.CompleteStepAsync(parentStep, new WorkflowAction { Id = 0, CreateChildWorkflow = new CreateChildWorkflowAction { InstanceId = "p-child", Name = "Child" } });
        var childStep = await env.NextAsync();
        Assert.Equal("p-child", childStep.WorkflowRequest.InstanceId);

        // The child finishes while the parent's state cannot be written: the child's step must not be committed.
        env.Store.FailWritesTo = "||p||";
        var done = new WorkflowAction { Id = 0, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.Completed, Result = "\"r\"" } };
        await Assert.ThrowsAnyAsync<Exception>(() => env.CompleteStepAsync(childStep, done));
        Assert.Equal(OrchestrationStatus.Pending, (await env.Engine.GetAsync("p-child", false, env.Limit))!.WorkflowStatus);

        env.Store.FailWritesTo = null;
        var again = await env.NextAsync();
        Assert.Equal("p-child", again.WorkflowRequest.InstanceId);
        await env.CompleteStepAsync(again, done);
        var parentNext = await env.NextAsync();
        Assert.Equal("p", parentNext.WorkflowRequest.InstanceId);
        var result = Assert.Single(parentNext.WorkflowRequest.NewEvents, e => e.ChildWorkflowInstanceCompleted is not null);
        Assert.Equal("\"r\"", result.ChildWorkflowInstanceCompleted.Result);
    }

    [Fact]
    public async Task ActivityResultWhoseCallerGaveUp_IsStoredAnyway()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "a", Name = "W" }, env.Limit);
        await env.CompleteStepAsync(await env.NextAsync(), new WorkflowAction { Id = 0, ScheduleTask = new ScheduleTaskAction { Name = "Act" } });
        var activity = await env.NextAsync();

        // The worker's call is cancelled (it timed out, say) while the result is being taken.
        try
        {
            await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "a", TaskId = 0, Result = "\"x\"", CompletionToken = activity.CompletionToken }, new CancellationToken(true));
        }
        catch (OperationCanceledException)
        {
        }

        var step = await env.NextAsync();
        Assert.Equal("\"x\"", Assert.Single(step.WorkflowRequest.NewEvents, e => e.TaskCompleted is not null).TaskCompleted.Result);
    }

    [Fact]
    public async Task ContinueAsNew_DoesNotCarryResultsOfTheOldExecutionIntoTheNewOne()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "c", Name = "W" }, env.Limit);
        await env.CompleteStepAsync(await env.NextAsync(), new WorkflowAction { Id = 0, ScheduleTask = new ScheduleTaskAction { Name = "Act" } });
        var activity = await env.NextAsync();
        await env.Engine.RaiseEventAsync("c", "go", "1", env.Limit);
        var step = await env.NextAsync();
        Assert.Equal(WorkItem.RequestOneofCase.WorkflowRequest, step.RequestCase);

        // The activity's result arrives while the step that continues as new is out.
        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "c", TaskId = 0, Result = "\"old\"", CompletionToken = activity.CompletionToken }, env.Limit);
        await env.Engine.RaiseEventAsync("c", "later", "2", env.Limit);
        await env.CompleteStepAsync(step, new WorkflowAction { Id = 1, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.ContinuedAsNew, Result = "2" } });

        var fresh = await env.NextAsync();
        Assert.Empty(fresh.WorkflowRequest.PastEvents);
        Assert.DoesNotContain(fresh.WorkflowRequest.NewEvents, e => e.TaskCompleted is not null);
        Assert.Equal("2", Assert.Single(fresh.WorkflowRequest.NewEvents, e => e.ExecutionStarted is not null).ExecutionStarted.Input);
        Assert.Equal("later", Assert.Single(fresh.WorkflowRequest.NewEvents, e => e.EventRaised is not null).EventRaised.Name);
    }

    [Fact]
    public async Task FinishedAndUnknownInstances_AreNotKeptInMemory_AndAreReadAgainWhenAskedFor()
    {
        await using var env = await EngineEnvironment.StartAsync();
        for (var i = 0; i < 20; i++)
        {
            Assert.Null(await env.Engine.GetAsync("unknown-" + i, false, env.Limit));
        }
        Assert.Equal(0, env.Engine.SlotCount);

        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "f", Name = "W" }, env.Limit);
        Assert.Equal(1, env.Engine.SlotCount);
        var waiting = env.Engine.WaitAsync("f", WorkflowHistory.IsTerminal, false, env.Limit);
        await env.CompleteStepAsync(await env.NextAsync(), new WorkflowAction { Id = 0, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.Completed, Result = "1" } });

        Assert.Equal(OrchestrationStatus.Completed, (await waiting)!.WorkflowStatus);
        Assert.Equal(0, env.Engine.SlotCount);
        Assert.Equal("1", (await env.Engine.GetAsync("f", true, env.Limit))!.Output);
        Assert.Equal(0, env.Engine.SlotCount);
    }

    [Fact]
    public async Task TerminatingAPendingInstance_KeepsItsExecutionStartedInHistory()
    {
        await using var env = await EngineEnvironment.StartAsync(connectWorker: false);
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "t", Name = "W", Input = "\"in\"" }, env.Limit);

        await env.Engine.TerminateAsync("t", "\"stop\"", recursive: false, env.Limit);

        var history = (await env.Engine.HistoryAsync("t", env.Limit))!;
        Assert.Equal("W", Assert.Single(history, e => e.ExecutionStarted is not null).ExecutionStarted.Name);
        Assert.Equal(OrchestrationStatus.Terminated, history[^1].ExecutionCompleted.WorkflowStatus);
    }

    /// <summary>An engine on an in-memory store, with one worker whose work items a test reads in order.</summary>
    private sealed class EngineEnvironment : IAsyncDisposable
    {
        private readonly CancellationTokenSource _limit = new(TimeSpan.FromSeconds(30));
        private readonly CancellationTokenSource _worker = new();
        private readonly Channel<WorkItem> _items = Channel.CreateUnbounded<WorkItem>();
        private Task _serving = Task.CompletedTask;

        private EngineEnvironment(FailingStore store, WorkflowEngine engine)
        {
            Store = store;
            Engine = engine;
        }

        public FailingStore Store { get; }
        public WorkflowEngine Engine { get; }

        /// <summary>Only turns a hang into a failure.</summary>
        public CancellationToken Limit => _limit.Token;

        public static async Task<EngineEnvironment> StartAsync(bool connectWorker = true)
        {
            var store = new FailingStore(new InMemoryStateStore(TimeProvider.System));
            var engine = new WorkflowEngine("app", new WorkflowStore(store, "app"), NullLogger.Instance, CancellationToken.None);
            var env = new EngineEnvironment(store, engine);
            await engine.StartAsync(env.Limit);
            if (connectWorker)
            {
                env._serving = engine.ServeWorkerAsync(new GetWorkItemsRequest(), item => env._items.Writer.WriteAsync(item).AsTask(), env._worker.Token);
            }
            return env;
        }

        public async Task<WorkItem> NextAsync() => await _items.Reader.ReadAsync(Limit);

        public Task CompleteStepAsync(WorkItem step, params WorkflowAction[] actions)
        {
            var response = new WorkflowResponse { InstanceId = step.WorkflowRequest.InstanceId, CompletionToken = step.CompletionToken };
            response.Actions.AddRange(actions);
            return Engine.CompleteOrchestratorAsync(response, Limit);
        }

        public async ValueTask DisposeAsync()
        {
            await _worker.CancelAsync();
            await _serving;
            await Engine.DisposeAsync();
            _worker.Dispose();
            _limit.Dispose();
        }
    }

    /// <summary>A store whose transactions fail while they touch a key containing <see cref="FailWritesTo"/>.</summary>
    private sealed class FailingStore(IStateStore inner) : IStateStore
    {
        public volatile string? FailWritesTo;

        public Task InitAsync(CancellationToken cancellationToken) => inner.InitAsync(cancellationToken);

        public Task<StateItem?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

        public Task<IReadOnlyDictionary<string, StateItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
            inner.GetManyAsync(keys, cancellationToken);

        public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken) =>
            FailWritesTo is { } failing && operations.Any(o => o.Key.Contains(failing, StringComparison.Ordinal))
                ? throw new IOException("the store is unreachable")
                : inner.ExecuteAsync(operations, cancellationToken);

        public Task<IReadOnlyList<KeyValuePair<string, StateItem>>> ScanAsync(string prefix, CancellationToken cancellationToken) =>
            inner.ScanAsync(prefix, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
