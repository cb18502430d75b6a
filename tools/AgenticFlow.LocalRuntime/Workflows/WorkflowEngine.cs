using System.Collections.Concurrent;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>
/// The durable workflow backend of one app (one sidecar): instances in the actor state store
/// (<see cref="WorkflowStore"/>), orchestration steps and activities handed to the app's workers
/// (<see cref="WorkDispatcher"/>), durable timers. Its parts: instances in memory and their locks
/// (<c>WorkflowEngine.Instances.cs</c>), client operations (<c>.Client.cs</c>), a worker's answers (<c>.Completions.cs</c>)
/// planned into history (<c>.Planning.cs</c>), handing out work (<c>.Dispatch.cs</c>), durable timers (<c>.Timers.cs</c>).
/// <para>Decisions:</para>
/// <list type="bullet">
/// <item>Every change of an instance happens under its own lock, on an in-memory copy that is written to the store
/// before anything is acknowledged or dispatched. A failed write reloads the copy from the store.</item>
/// <item>One orchestration step per instance at a time. A step carries the whole history as past events and an
/// <c>OrchestratorStarted</c> event plus the inbox as new events; events arriving meanwhile stay in the inbox for the
/// next step.</item>
/// <item>A step's effects on other instances (start a child, send an event, report to the parent, terminate) run
/// before the step is committed, so a crash in between repeats them rather than loses them. Child starts and results
/// for a parent are idempotent (matched by parent and task id); an event sent to another instance may arrive twice
/// after such a crash (at least once, like daprd).</item>
/// <item>Terminate, suspend and resume are applied by the backend itself, so they work with no worker connected:
/// terminate appends <c>ExecutionTerminated</c> and <c>ExecutionCompleted</c> to history and drops a step in flight.</item>
/// <item>Activity and timer results are accepted once: a second completion of one activity (a worker finishing work
/// that was already handed to another) is ignored. Answers are matched as daprd matches them, with or without a
/// completion token (see <c>WorkflowEngine.Completions.cs</c>).</item>
/// <item>At start the engine scans its keys and resumes every unfinished instance: pending activities are queued,
/// timers re-armed, steps with inbox events queued.</item>
/// </list>
/// </summary>
public sealed partial class WorkflowEngine : IAsyncDisposable
{
    private readonly string _appId;
    private readonly WorkflowStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly WorkDispatcher _dispatcher;
    private readonly CancellationTokenSource _stopping;
    // Kept apart from the source so background work never touches a disposed CancellationTokenSource.
    private readonly CancellationToken _stop;
    // Instances in memory: those with work under way. A slot is dropped when nobody holds or waits for its lock and
    // it has nothing under way (finished, purged, never existed); the next touch reads the instance again.
    private readonly Lock _slotsGate = new();
    private readonly Dictionary<string, InstanceSlot> _slots = new(StringComparer.Ordinal);
    private static readonly TimeSpan StepDeadline = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, bool> _armedTimers = new(StringComparer.Ordinal);
    // Per instance execution: cancels its timers and its scheduled start once the execution ends or is purged.
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _executions = new(StringComparer.Ordinal);
    private Task? _dispatching;

    public WorkflowEngine(string appId, WorkflowStore store, ILogger logger, CancellationToken lifetime, TimeProvider? time = null)
    {
        _appId = appId;
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        _stop = _stopping.Token;
        _dispatcher = new WorkDispatcher(BuildWorkItemAsync, ReturnedAsync, logger);
    }

    public CancellationToken Stopping => _stop;

    /// <summary>Resumes every unfinished instance found in the store, then starts handing out work.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var resumed = 0;
        foreach (var (id, stored) in await _store.ScanAsync(ct))
        {
            if (IsTerminal(stored.Metadata.WorkflowStatus))
            {
                continue;
            }
            await using var held = await LockAsync(id, ct, preloaded: stored);
            var slot = held.Slot;
            AfterCommit(slot, PendingActivities(slot.Stored!).ToList(), PendingTimers(slot.Stored!).ToList());
            ArmScheduledStart(slot);
            ScheduleIfReady(slot);
            resumed++;
        }
        if (resumed > 0)
        {
            _logger.LogInformation("Workflow backend of {AppId} resumed {Count} unfinished instances", _appId, resumed);
        }
        _dispatching = Task.Run(() => _dispatcher.RunAsync(_stop), CancellationToken.None);
    }


    public static string StatusName(OrchestrationStatus status) => status switch
    {
        OrchestrationStatus.Running => "RUNNING",
        OrchestrationStatus.Completed => "COMPLETED",
        OrchestrationStatus.ContinuedAsNew => "CONTINUED_AS_NEW",
        OrchestrationStatus.Failed => "FAILED",
        OrchestrationStatus.Canceled => "CANCELED",
        OrchestrationStatus.Terminated => "TERMINATED",
        OrchestrationStatus.Pending => "PENDING",
        OrchestrationStatus.Suspended => "SUSPENDED",
        OrchestrationStatus.Stalled => "STALLED",
        _ => "UNKNOWN",
    };

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_dispatching is not null)
        {
            try
            {
                await _dispatching;
            }
            catch (OperationCanceledException)
            {
            }
        }
        foreach (var key in _executions.Keys)
        {
            if (_executions.TryRemove(key, out var execution))
            {
                execution.Dispose();
            }
        }
        _stopping.Dispose();
    }
}
