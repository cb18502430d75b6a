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

    [Fact]
    public async Task AnswersWithoutCompletionToken_AreMatchedByInstanceAndTask_AndStaleOrRepeatedOnesAreIgnored()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "js", Name = "W" }, env.Limit);
        await env.NextAsync();

        // As the JavaScript SDK answers: instance id (and task id) only, no token.
        var schedule = Tokenless("js", new WorkflowAction { Id = 1, ScheduleTask = new ScheduleTaskAction { Name = "Act", Input = "1" } });
        await env.Engine.CompleteOrchestratorAsync(schedule, env.Limit);
        var activity = await env.NextAsync();
        Assert.Equal(1, activity.ActivityRequest.TaskId);
        await env.Engine.CompleteOrchestratorAsync(schedule, env.Limit); // repeated: no step is out

        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "js", TaskId = 1, Result = "\"first\"" }, env.Limit);
        var step = await env.NextAsync();
        Assert.Equal("\"first\"", Assert.Single(step.WorkflowRequest.NewEvents, e => e.TaskCompleted is not null).TaskCompleted.Result);
        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "js", TaskId = 1, Result = "\"again\"" }, env.Limit);
        // The first step's answer arriving once more, while the second step is out: it schedules id 1 again.
        await env.Engine.CompleteOrchestratorAsync(schedule, env.Limit);

        await env.Engine.CompleteOrchestratorAsync(Tokenless("js", new WorkflowAction
        {
            Id = 2, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.Completed, Result = "\"done\"" },
        }), env.Limit);

        var state = (await env.Engine.GetAsync("js", true, env.Limit))!;
        Assert.Equal(OrchestrationStatus.Completed, state.WorkflowStatus);
        Assert.Equal("\"done\"", state.Output);
        var history = (await env.Engine.HistoryAsync("js", env.Limit))!;
        Assert.Single(history, e => e.TaskScheduled is not null);
        Assert.Equal("\"first\"", Assert.Single(history, e => e.TaskCompleted is not null).TaskCompleted.Result);
    }

    [Fact]
    public async Task ActivityAnswerWithoutToken_FromAnOlderExecution_IsIgnored()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "can", Name = "W" }, env.Limit);
        await env.CompleteStepAsync(await env.NextAsync(), new WorkflowAction { Id = 1, ScheduleTask = new ScheduleTaskAction { Name = "Act" } });
        var old = await env.NextAsync();
        await env.Engine.RaiseEventAsync("can", "go", "1", env.Limit);
        await env.CompleteStepAsync(await env.NextAsync(), new WorkflowAction
        {
            Id = 2, CompleteWorkflow = new CompleteWorkflowAction { WorkflowStatus = OrchestrationStatus.ContinuedAsNew, Result = "2" },
        });
        var fresh = await env.NextAsync();

        // The old execution's activity (task 1) answers while the new execution has not scheduled a task 1.
        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = old.ActivityRequest.WorkflowInstance.InstanceId, TaskId = 1, Result = "\"old\"" }, env.Limit);
        await env.CompleteStepAsync(fresh, new WorkflowAction { Id = 1, ScheduleTask = new ScheduleTaskAction { Name = "Act" } });
        var current = await env.NextAsync();
        Assert.Equal(1, current.ActivityRequest.TaskId);
        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "can", TaskId = 1, Result = "\"new\"" }, env.Limit);

        var step = await env.NextAsync();
        Assert.Equal("\"new\"", Assert.Single(step.WorkflowRequest.NewEvents, e => e.TaskCompleted is not null).TaskCompleted.Result);
    }

    [Fact]
    public async Task StepWhoseWorkerLeft_IsHandedOutAgainUnchanged_AndTheFirstAnswerToEitherHandOutIsTaken()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "again", Name = "W" }, env.Limit);
        var first = await env.NextAsync();

        await env.ReconnectWorkerAsync();
        var second = await env.NextAsync();

        Assert.Equal(first.CompletionToken, second.CompletionToken);
        Assert.Equal(first.WorkflowRequest.NewEvents, second.WorkflowRequest.NewEvents);
        // The worker that left answers after all (its stream broke, its unary call did not): taken.
        await env.Engine.CompleteOrchestratorAsync(Tokenless("again", new WorkflowAction { Id = 1, ScheduleTask = new ScheduleTaskAction { Name = "Act" } }), env.Limit);
        await env.CompleteStepAsync(second, new WorkflowAction { Id = 1, ScheduleTask = new ScheduleTaskAction { Name = "Other" } });

        Assert.Equal("Act", (await env.NextAsync()).ActivityRequest.Name);
        var history = (await env.Engine.HistoryAsync("again", env.Limit))!;
        Assert.Equal("Act", Assert.Single(history, e => e.TaskScheduled is not null).TaskScheduled.Name);
    }

    [Fact]
    public async Task Worker_IsNeverHandedMoreThanItCanHold_TheRestFollowAsItCompletes()
    {
        await using var env = await EngineEnvironment.StartAsync();
        await env.Engine.StartInstanceAsync(new CreateInstanceRequest { InstanceId = "many", Name = "W" }, env.Limit);
        var fanOut = Enumerable.Range(1, 150).Select(i => new WorkflowAction { Id = i, ScheduleTask = new ScheduleTaskAction { Name = "Act" } }).ToArray();
        await env.CompleteStepAsync(await env.NextAsync(), fanOut);

        var held = new List<WorkItem>();
        for (var i = 0; i < WorkDispatcher.Capacity; i++)
        {
            held.Add(await env.NextAsync());
        }
        Assert.All(held, item => Assert.NotNull(item.ActivityRequest));
        Assert.False(env.TryNext(out _), "a worker holding 100 work items was sent another");

        // The JavaScript SDK would drop a 111th; once one is answered, the next one follows.
        await env.Engine.CompleteActivityAsync(new ActivityResponse { InstanceId = "many", TaskId = held[0].ActivityRequest.TaskId, Result = "1" }, env.Limit);
        Assert.Equal(WorkDispatcher.Capacity + 1, (await env.NextAsync()).ActivityRequest.TaskId);
    }

    private static WorkflowResponse Tokenless(string instanceId, params WorkflowAction[] actions)
    {
        var response = new WorkflowResponse { InstanceId = instanceId };
        response.Actions.AddRange(actions);
        return response;
    }

    /// <summary>An engine on an in-memory store, with one worker whose work items a test reads in order.</summary>
    private sealed class EngineEnvironment : IAsyncDisposable
    {
        private readonly CancellationTokenSource _limit = new(TimeSpan.FromSeconds(30));
        private CancellationTokenSource _worker = new();
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

        public bool TryNext(out WorkItem? item) => _items.Reader.TryRead(out item);

        /// <summary>The worker's stream ends and a new one connects: what the first held goes to the second.</summary>
        public async Task ReconnectWorkerAsync()
        {
            await _worker.CancelAsync();
            await _serving;
            _worker.Dispose();
            _worker = new CancellationTokenSource();
            _serving = Engine.ServeWorkerAsync(new GetWorkItemsRequest(), item => _items.Writer.WriteAsync(item).AsTask(), _worker.Token);
        }

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
