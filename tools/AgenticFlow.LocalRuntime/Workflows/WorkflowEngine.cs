using System.Collections.Concurrent;
using AgenticFlow.LocalRuntime.Errors;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>
/// The durable workflow backend of one app (one sidecar): instances in the actor state store
/// (<see cref="WorkflowStore"/>), orchestration steps and activities handed to the app's workers
/// (<see cref="WorkDispatcher"/>), durable timers.
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

    public WorkflowEngine(string appId, WorkflowStore store, ILogger logger, CancellationToken lifetime)
    {
        _appId = appId;
        _store = store;
        _logger = logger;
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

    // ---- client operations ----

    public async Task<string> StartInstanceAsync(CreateInstanceRequest request, CancellationToken ct)
    {
        var id = WorkflowErrors.CheckInstanceId(string.IsNullOrEmpty(request.InstanceId) ? Guid.NewGuid().ToString() : request.InstanceId);
        WorkflowErrors.CheckName(request.Name);
        await CreateAsync(id, request.Name, request.Version, request.Input, request.ScheduledStartTimestamp, null, request.ParentTraceContext, request.Tags, ct);
        return id;
    }

    /// <summary>The instance's metadata, or null when it does not exist.</summary>
    public async Task<WorkflowState?> GetAsync(string instanceId, bool withInputsAndOutputs, CancellationToken ct)
    {
        await using var held = await LockAsync(WorkflowErrors.CheckInstanceId(instanceId), ct);
        return Snapshot(held.Slot, withInputsAndOutputs);
    }

    private static WorkflowState? Snapshot(InstanceSlot slot, bool withInputsAndOutputs)
    {
        if (slot.Stored is not { } s)
        {
            return null;
        }
        var state = s.Metadata.Clone();
        if (!withInputsAndOutputs)
        {
            state.Input = null;
            state.Output = null;
        }
        return state;
    }

    /// <summary>Waits until the instance's status satisfies <paramref name="done"/>; null when it does not exist.</summary>
    public async Task<WorkflowState?> WaitAsync(string instanceId, Func<OrchestrationStatus, bool> done, bool withInputsAndOutputs, CancellationToken ct)
    {
        WorkflowErrors.CheckInstanceId(instanceId);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop);
        while (true)
        {
            // Read under the lock, so no change is missed; a slot dropped from memory signals Changed too, and the
            // next round reads the instance again.
            Task changed;
            WorkflowState? state;
            await using (var held = await LockAsync(instanceId, both.Token))
            {
                changed = held.Slot.Changed;
                state = Snapshot(held.Slot, withInputsAndOutputs);
            }
            if (state is null || done(state.WorkflowStatus))
            {
                return state;
            }
            await changed.WaitAsync(both.Token);
        }
    }

    public Task RaiseEventAsync(string instanceId, string name, string? input, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw WorkflowErrors.Invalid("ERR_MISSING_WORKFLOW_EVENT_NAME", "missing workflow event name");
        }
        return DeliverAsync(WorkflowErrors.CheckInstanceId(instanceId), "ERR_RAISE_EVENT_WORKFLOW",
            New(e => e.EventRaised = new EventRaisedEvent { Name = name, Input = input }), accept: null, ct);
    }

    public async Task SuspendAsync(string instanceId, string? reason, CancellationToken ct)
    {
        await using var held = await LockAsync(WorkflowErrors.CheckInstanceId(instanceId), ct);
        var slot = held.Slot;
        var s = slot.Stored ?? throw WorkflowErrors.NotFound("ERR_PAUSE_WORKFLOW", instanceId);
        if (s.Metadata.WorkflowStatus is not (OrchestrationStatus.Running or OrchestrationStatus.Pending))
        {
            return; // suspended already, or finished: nothing to pause
        }
        s.Metadata.WorkflowStatus = OrchestrationStatus.Suspended;
        s.Inbox.Add(New(e => e.ExecutionSuspended = new ExecutionSuspendedEvent { Input = reason }));
        await SaveAsync(slot, history: false, inbox: true, ct);
    }

    public async Task ResumeAsync(string instanceId, string? reason, CancellationToken ct)
    {
        await using var held = await LockAsync(WorkflowErrors.CheckInstanceId(instanceId), ct);
        var slot = held.Slot;
        var s = slot.Stored ?? throw WorkflowErrors.NotFound("ERR_RESUME_WORKFLOW", instanceId);
        if (s.Metadata.WorkflowStatus != OrchestrationStatus.Suspended)
        {
            return;
        }
        s.Metadata.WorkflowStatus = s.History.Count > 0 ? OrchestrationStatus.Running : OrchestrationStatus.Pending;
        s.Inbox.Add(New(e => e.ExecutionResumed = new ExecutionResumedEvent { Input = reason }));
        await SaveAsync(slot, history: false, inbox: true, ct);
        ScheduleIfReady(slot);
    }

    /// <summary>Ends the instance as Terminated; with <paramref name="recursive"/>, its running children first.
    /// The parent hears of it once the termination is stored.</summary>
    public async Task TerminateAsync(string instanceId, string? output, bool recursive, CancellationToken ct)
    {
        WorkflowErrors.CheckInstanceId(instanceId);
        List<string> children;
        ParentInstanceInfo? parent;
        await using (var held = await LockAsync(instanceId, ct))
        {
            var slot = held.Slot;
            var s = slot.Stored ?? throw WorkflowErrors.NotFound("ERR_TERMINATE_WORKFLOW", instanceId);
            if (IsTerminal(s.Metadata.WorkflowStatus))
            {
                return;
            }
            children = recursive ? RunningChildren(s).ToList() : [];
            parent = Parent(s);
            // No step may run from here on: a child's termination report would otherwise let the workflow
            // fail before it is terminated. The flag also keeps the slot in memory until it is cleared below.
            slot.Terminating = true;
            ClearStep(slot);
        }
        var stored = false;
        try
        {
            foreach (var child in children)
            {
                await TryEffectAsync(() => TerminateAsync(child, null, true, ct), "terminate child workflow " + child);
            }
            await using (var held = await LockAsync(instanceId, ct))
            {
                var slot = held.Slot;
                if (slot.Stored is not { } s || IsTerminal(s.Metadata.WorkflowStatus))
                {
                    return;
                }
                ClearStep(slot);
                var executionId = s.Metadata.ExecutionId;
                // An instance that never ran has its ExecutionStarted only in the inbox: keep it, it names the
                // workflow and its parent.
                if (!s.History.Any(e => e.ExecutionStarted is not null))
                {
                    s.History.AddRange(s.Inbox.Where(e => e.ExecutionStarted is not null).Take(1));
                }
                s.History.Add(New(e => e.WorkflowStarted = new WorkflowStartedEvent()));
                s.History.Add(New(e => e.ExecutionTerminated = new ExecutionTerminatedEvent { Input = output, Recurse = recursive }));
                s.History.Add(New(e => e.ExecutionCompleted = new ExecutionCompletedEvent { WorkflowStatus = OrchestrationStatus.Terminated, Result = output }));
                s.Inbox.Clear();
                Finish(s.Metadata, OrchestrationStatus.Terminated, output, null);
                await SaveAsync(slot, history: true, inbox: true, ct);
                EndExecution(instanceId, executionId);
                stored = true;
            }
        }
        finally
        {
            // Not loading: after a failed write the instance is unloaded and its reload schedules it.
            await using (var held = await LockAsync(instanceId, CancellationToken.None, load: false))
            {
                held.Slot.Terminating = false;
                if (held.Slot.Loaded)
                {
                    ScheduleIfReady(held.Slot); // only when the termination was not stored
                }
            }
        }
        if (stored && parent is not null)
        {
            var failed = New(e => e.ChildWorkflowInstanceFailed = new ChildWorkflowInstanceFailedEvent
            {
                TaskScheduledId = parent.TaskScheduledId,
                FailureDetails = new TaskFailureDetails { ErrorType = "WorkflowTerminated", ErrorMessage = $"child workflow '{instanceId}' was terminated" },
            });
            _ = ReportToParentAsync(parent, failed);
        }
    }

    /// <summary>A stored termination's report to the parent, tried until the parent has it (or is gone).</summary>
    private async Task ReportToParentAsync(ParentInstanceInfo parent, HistoryEvent result)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DeliverChildResultAsync(parent, result, _stop);
                return;
            }
            catch (DaprError)
            {
                return; // the parent was purged
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning("Termination report to parent workflow {Parent} could not be stored (attempt {Attempt}): {Reason}",
                    parent.WorkflowInstance?.InstanceId, attempt, ex.Message);
                try
                {
                    await Task.Delay(RetryDelay(attempt), _stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Deletes a finished instance (and with <paramref name="recursive"/> its finished children); returns how
    /// many were deleted. A running instance is refused unless <paramref name="force"/>.</summary>
    public async Task<int> PurgeAsync(string instanceId, bool recursive, bool force, CancellationToken ct)
    {
        List<string> children;
        await using (var held = await LockAsync(WorkflowErrors.CheckInstanceId(instanceId), ct))
        {
            var slot = held.Slot;
            if (slot.Stored is not { } s)
            {
                return 0;
            }
            var status = s.Metadata.WorkflowStatus;
            if (!IsTerminal(status) && !force)
            {
                throw WorkflowErrors.NotPurgeable(instanceId, StatusName(status));
            }
            children = recursive ? AllChildren(s).ToList() : [];
            await _store.DeleteAsync(instanceId, s.ETag, ct);
            ClearStep(slot);
            EndExecution(instanceId, s.Metadata.ExecutionId);
            slot.Stored = null;
            slot.NotifyChanged();
        }
        var deleted = 1;
        foreach (var child in children)
        {
            try
            {
                deleted += await PurgeAsync(child, recursive: true, force, ct);
            }
            catch (DaprError ex)
            {
                _logger.LogWarning("Child workflow {Child} of {InstanceId} was not purged: {Reason}", child, instanceId, ex.Message);
            }
        }
        return deleted;
    }

    public async Task<int> PurgeAsync(PurgeInstanceFilter filter, bool recursive, bool force, CancellationToken ct)
    {
        var deleted = 0;
        foreach (var (id, stored) in await _store.ScanAsync(ct))
        {
            var m = stored.Metadata;
            var statuses = filter.RuntimeStatus.Count > 0 ? filter.RuntimeStatus.ToList() : [OrchestrationStatus.Completed, OrchestrationStatus.Failed, OrchestrationStatus.Terminated];
            if (!statuses.Contains(m.WorkflowStatus) || (filter.CreatedTimeFrom is { } from && m.CreatedTimestamp < from) || (filter.CreatedTimeTo is { } to && m.CreatedTimestamp >= to))
            {
                continue;
            }
            try
            {
                deleted += await PurgeAsync(id, recursive, force, ct);
            }
            catch (DaprError ex)
            {
                _logger.LogInformation("Instance {InstanceId} matched the purge filter but was not purged: {Reason}", id, ex.Message);
            }
        }
        return deleted;
    }

    /// <summary>Instance ids in ordinal order, a page at a time; the continuation token is the last id returned.</summary>
    public async Task<(List<string> Ids, string? Next)> ListAsync(string? after, int pageSize, CancellationToken ct)
    {
        var ids = (await _store.ScanAsync(ct)).Select(i => i.InstanceId)
            .Where(id => string.IsNullOrEmpty(after) || string.CompareOrdinal(id, after) > 0)
            .Order(StringComparer.Ordinal).ToList();
        if (pageSize <= 0 || ids.Count <= pageSize)
        {
            return (ids, null);
        }
        var page = ids.Take(pageSize).ToList();
        return (page, page[^1]);
    }

    public async Task<List<HistoryEvent>?> HistoryAsync(string instanceId, CancellationToken ct)
    {
        await using var held = await LockAsync(WorkflowErrors.CheckInstanceId(instanceId), ct);
        return held.Slot.Stored?.History.Select(e => e.Clone()).ToList();
    }

    // ---- worker operations ----

    /// <summary>Serves one <c>GetWorkItems</c> stream until the worker goes away or the runtime stops.</summary>
    public async Task ServeWorkerAsync(GetWorkItemsRequest request, Func<WorkItem, Task> write, CancellationToken ct)
    {
        var worker = _dispatcher.Connect(request.Capabilities.Contains(WorkerCapability.HealthPing));
        using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop);
        try
        {
            if (worker.WantsHealthPings)
            {
                _ = PingAsync(worker, both.Token);
            }
            await foreach (var item in worker.Items.Reader.ReadAllAsync(both.Token))
            {
                await write(item);
            }
        }
        catch (OperationCanceledException)
        {
            // the worker went away or the runtime is stopping
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            _logger.LogInformation("Workflow worker {Worker} stream broke: {Reason}", worker.Id, ex.Message);
        }
        finally
        {
            await _dispatcher.DisconnectAsync(worker);
        }
    }

    /// <summary>Health pings go only to workers that declare they understand them: the .NET SDK 1.19 does not, and
    /// logs a warning for every work item kind it does not know.</summary>
    private static async Task PingAsync(WorkerConnection worker, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(ct) && worker.Items.Writer.TryWrite(new WorkItem { HealthPing = new HealthPing() }))
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TimeSpan RetryDelay(int attempt) => TimeSpan.FromMilliseconds(500 * Math.Clamp(attempt, 1, 10));

    // ---- shared steps ----

    /// <summary>Creates an instance. A child whose parent already started it (same parent and task) is left as is,
    /// so a repeated step starts it once; a finished instance of the same id is replaced.</summary>
    private async Task CreateAsync(string id, string name, string? version, string? input, Timestamp? scheduledStart, ParentInstanceInfo? parent,
        TraceContext? trace, IEnumerable<KeyValuePair<string, string>>? tags, CancellationToken ct)
    {
        await using var held = await LockAsync(id, ct);
        var slot = held.Slot;
        string? etag = null;
        if (slot.Stored is { } existing)
        {
            var existingParent = Parent(existing);
            if (parent is not null && existingParent?.WorkflowInstance?.InstanceId == parent.WorkflowInstance.InstanceId
                && existingParent.WorkflowInstance.ExecutionId == parent.WorkflowInstance.ExecutionId && existingParent.TaskScheduledId == parent.TaskScheduledId)
            {
                return;
            }
            if (!IsTerminal(existing.Metadata.WorkflowStatus))
            {
                throw WorkflowErrors.AlreadyExists(id, StatusName(existing.Metadata.WorkflowStatus));
            }
            etag = existing.ETag;
        }
        var now = Now();
        var executionId = Guid.NewGuid().ToString("N");
        var metadata = new WorkflowState
        {
            InstanceId = id, Name = name, Version = version, WorkflowStatus = OrchestrationStatus.Pending, Input = input, ExecutionId = executionId,
            CreatedTimestamp = now, LastUpdatedTimestamp = now, ScheduledStartTimestamp = scheduledStart,
            ParentInstanceId = parent?.WorkflowInstance.InstanceId, ParentAppId = parent?.AppID,
        };
        var started = New(e => e.ExecutionStarted = new ExecutionStartedEvent
        {
            Name = name, Version = version, Input = input, WorkflowInstance = new WorkflowInstance { InstanceId = id, ExecutionId = executionId },
            ParentInstance = parent, ScheduledStartTimestamp = scheduledStart, ParentTraceContext = trace,
        });
        started.Router = new TaskRouter { SourceAppID = _appId };
        if (tags is not null)
        {
            metadata.Tags.Add(tags.ToDictionary());
            started.ExecutionStarted.Tags.Add(metadata.Tags);
        }
        slot.Stored = new StoredInstance { Metadata = metadata, Inbox = [started], ETag = etag };
        ClearStep(slot);
        await SaveAsync(slot, history: true, inbox: true, ct);
        ArmScheduledStart(slot);
        ScheduleIfReady(slot);
    }

    /// <summary>Adds an event to an unfinished instance's inbox. <paramref name="accept"/> can refuse it (a duplicate).</summary>
    private async Task DeliverAsync(string id, string notFoundCode, HistoryEvent e, Func<StoredInstance, bool>? accept, CancellationToken ct)
    {
        await using var held = await LockAsync(id, ct);
        var slot = held.Slot;
        var s = slot.Stored ?? throw WorkflowErrors.NotFound(notFoundCode, id);
        if (IsTerminal(s.Metadata.WorkflowStatus) || (accept is not null && !accept(s)))
        {
            return;
        }
        s.Inbox.Add(e);
        await SaveAsync(slot, history: false, inbox: true, ct);
        ScheduleIfReady(slot);
    }

    /// <summary>A child's result for its parent, taken once and only by the execution that started the child.</summary>
    private Task DeliverChildResultAsync(ParentInstanceInfo parent, HistoryEvent result, CancellationToken ct)
    {
        var taskId = parent.TaskScheduledId;
        return DeliverAsync(parent.WorkflowInstance.InstanceId, "ERR_RAISE_EVENT_WORKFLOW", result,
            s => s.Metadata.ExecutionId == parent.WorkflowInstance.ExecutionId && !HasChildResult(s, taskId), ct);
    }

    /// <summary>Runs an effect on another instance. Only a refusal (not found, invalid id, already exists) is logged
    /// and passed over; anything else (the store failing) escapes, so the step is not committed and runs again.</summary>
    private async Task TryEffectAsync(Func<Task> effect, string what)
    {
        try
        {
            await effect();
        }
        catch (DaprError ex)
        {
            _logger.LogWarning("Workflow backend could not {What}: {Reason}", what, ex.Message);
        }
    }

    // ---- dispatch ----

    /// <summary>Queues a step when the instance has inbox events, no step held by a worker, is not suspended or
    /// finished, and its scheduled start has come. Caller holds the lock.</summary>
    private void ScheduleIfReady(InstanceSlot slot)
    {
        if (!slot.Queued && !slot.StepHandedOut && IsRunnable(slot))
        {
            slot.Queued = true;
            _dispatcher.Enqueue(new OrchestrationWork(slot.Id));
        }
    }

    private static bool IsRunnable(InstanceSlot slot) =>
        !slot.Terminating && !slot.RetryingStep && slot.Stored is { } s && s.Inbox.Count > 0
        && s.Metadata.WorkflowStatus is OrchestrationStatus.Pending or OrchestrationStatus.Running
        && (s.Metadata.ScheduledStartTimestamp is not { } start || start.ToDateTime() <= DateTime.UtcNow);

    private async Task<WorkItem?> BuildWorkItemAsync(PendingWork work, string token)
    {
        try
        {
            return await BuildAsync(work, token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The instance could not be read: read it again later, which queues its step and activities again.
            _ = ReloadLaterAsync(work.InstanceId);
            throw;
        }
    }

    private async Task<WorkItem?> BuildAsync(PendingWork work, string token)
    {
        await using var held = await LockAsync(work.InstanceId, _stop);
        var slot = held.Slot;
        switch (work)
        {
            case OrchestrationWork:
            {
                slot.Queued = false;
                if (slot.StepHandedOut || !IsRunnable(slot))
                {
                    return null;
                }
                var s = slot.Stored!;
                if (slot.StepToken is null)
                {
                    slot.StepToken = token;
                    slot.StepCancel = CancellationTokenSource.CreateLinkedTokenSource(_stop);
                    slot.StepEvents = [New(e => e.WorkflowStarted = new WorkflowStartedEvent()), .. s.Inbox];
                    slot.StepInboxCount = s.Inbox.Count;
                }
                // A step handed out before (its worker went away, or its deadline passed) goes out again unchanged,
                // under its first token: every answer to it answers the same question.
                slot.StepHandedOut = true;
                slot.StepHandOuts++;
                _ = ExpireStepAsync(slot.Id, slot.StepToken, slot.StepHandOuts, slot.StepCancel!.Token);
                var request = new WorkflowRequest { InstanceId = slot.Id, ExecutionId = s.Metadata.ExecutionId, Router = new TaskRouter { SourceAppID = _appId } };
                request.PastEvents.AddRange(s.History);
                request.NewEvents.AddRange(slot.StepEvents!);
                return new WorkItem { CompletionToken = slot.StepToken, WorkflowRequest = request };
            }
            case ActivityWork a:
            {
                if (slot.Stored is not { } s || IsTerminal(s.Metadata.WorkflowStatus) || s.Metadata.ExecutionId != a.ExecutionId || HasTaskResult(s, a.TaskId))
                {
                    return null;
                }
                return new WorkItem
                {
                    CompletionToken = token,
                    ActivityRequest = new ActivityRequest
                    {
                        Name = a.Scheduled.Name, Version = a.Scheduled.Version, Input = a.Scheduled.Input, TaskId = a.TaskId,
                        TaskExecutionId = a.Scheduled.TaskExecutionId, ParentTraceContext = a.Scheduled.ParentTraceContext,
                        WorkflowInstance = new WorkflowInstance { InstanceId = a.InstanceId, ExecutionId = a.ExecutionId },
                    },
                };
            }
            default:
                return null;
        }
    }

    /// <summary>Work a worker held but did not complete: activities are queued again, a step is queued to be handed
    /// out again as it was. Does not read the store, so it cannot fail: an instance not in memory has no step, and
    /// is scheduled by its reload.</summary>
    private async Task ReturnedAsync(PendingWork work, string token)
    {
        if (work is ActivityWork)
        {
            _dispatcher.Enqueue(work);
            return;
        }
        await using var held = await LockAsync(work.InstanceId, CancellationToken.None, load: false);
        var slot = held.Slot;
        if (slot.StepToken == token)
        {
            slot.StepHandedOut = false;
        }
        if (slot.Loaded)
        {
            ScheduleIfReady(slot);
        }
    }

    /// <summary>A step is a replay without I/O. One not completed by its deadline was lost (the SDK abandons a step
    /// whose completion call fails, while its stream lives on), so it is handed out again; the first answer to
    /// either hand-out is taken. Generous, so a developer paused in a debugger is not overtaken.</summary>
    private async Task ExpireStepAsync(string id, string token, int handOut, CancellationToken stepDone)
    {
        try
        {
            await Task.Delay(StepDeadline, stepDone);
            await using var held = await LockAsync(id, _stop, load: false);
            var slot = held.Slot;
            if (slot.StepToken == token && slot.StepHandedOut && slot.StepHandOuts == handOut)
            {
                _logger.LogWarning("Workflow step of {InstanceId} was not completed within {Deadline}; handing it out again", slot.Id, StepDeadline);
                _dispatcher.Complete(token);
                slot.StepHandedOut = false;
                ScheduleIfReady(slot);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void ClearStep(InstanceSlot slot)
    {
        // Ends the step's deadline wait at once rather than after StepDeadline.
        slot.StepCancel?.Cancel();
        slot.StepCancel?.Dispose();
        slot.StepCancel = null;
        slot.StepToken = null;
        slot.StepHandedOut = false;
        slot.StepHandOuts = 0;
        slot.StepEvents = null;
        slot.StepInboxCount = 0;
    }

    /// <summary>After a commit: dispatch the activities it scheduled and arm its timers.</summary>
    private void AfterCommit(InstanceSlot slot, List<HistoryEvent> activities, List<HistoryEvent> timers)
    {
        var executionId = slot.Stored!.Metadata.ExecutionId;
        foreach (var scheduled in activities)
        {
            _dispatcher.Enqueue(new ActivityWork(slot.Id, executionId, scheduled.EventId, scheduled.TaskScheduled));
        }
        foreach (var created in timers)
        {
            ArmTimer(slot.Id, executionId, created.EventId, created.TimerCreated.FireAt.ToDateTime());
        }
    }

    private void ArmTimer(string id, string executionId, int timerId, DateTime fireAt)
    {
        if (fireAt >= NeverFires || !_armedTimers.TryAdd($"{id}\n{executionId}\n{timerId}", true))
        {
            return;
        }
        var executionEnded = ExecutionToken(id, executionId);
        _ = Task.Run(async () =>
        {
            try
            {
                await DelayUntilAsync(fireAt, executionEnded);
                await FireTimerAsync(id, executionId, timerId, fireAt, executionEnded);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _armedTimers.TryRemove($"{id}\n{executionId}\n{timerId}", out _);
            }
        }, CancellationToken.None);
    }

    private async Task FireTimerAsync(string id, string executionId, int timerId, DateTime fireAt, CancellationToken executionEnded)
    {
        var fired = New(e => e.TimerFired = new TimerFiredEvent { TimerId = timerId, FireAt = Timestamp.FromDateTime(fireAt) });
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DeliverAsync(id, "ERR_TIMER", fired, s => s.Metadata.ExecutionId == executionId && !HasTimerFired(s, timerId), _stop);
                return;
            }
            catch (DaprError)
            {
                return; // the instance was purged
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is unreachable: the timer is durable, so keep trying until it is stored.
                _logger.LogWarning("Timer {TimerId} of workflow {InstanceId} could not be stored (attempt {Attempt}): {Reason}", timerId, id, attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), executionEnded);
            }
        }
    }

    private void ArmScheduledStart(InstanceSlot slot)
    {
        if (slot.Stored?.Metadata is { WorkflowStatus: OrchestrationStatus.Pending, ScheduledStartTimestamp: { } start } m && start.ToDateTime() > DateTime.UtcNow)
        {
            var id = slot.Id;
            var executionEnded = ExecutionToken(id, m.ExecutionId);
            _ = Task.Run(async () =>
            {
                try
                {
                    await DelayUntilAsync(start.ToDateTime(), executionEnded);
                    await using var held = await LockAsync(id, _stop);
                    ScheduleIfReady(held.Slot);
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None);
        }
    }

    /// <summary>Cancelled when the execution ends (finished, continued as new, purged) or the engine stops. Caller holds the lock.</summary>
    private CancellationToken ExecutionToken(string id, string executionId) =>
        _executions.GetOrAdd(id + "\n" + executionId, _ => CancellationTokenSource.CreateLinkedTokenSource(_stop)).Token;

    /// <summary>Stops the execution's timers and scheduled start. Caller holds the lock.</summary>
    private void EndExecution(string id, string executionId)
    {
        if (_executions.TryRemove(id + "\n" + executionId, out var ended))
        {
            ended.Cancel();
            ended.Dispose();
        }
    }

    /// <summary>Task.Delay takes at most about 49 days, so longer waits go in steps.</summary>
    private static async Task DelayUntilAsync(DateTime at, CancellationToken ct)
    {
        var step = TimeSpan.FromDays(30);
        for (var wait = at - DateTime.UtcNow; wait > TimeSpan.Zero; wait = at - DateTime.UtcNow)
        {
            await Task.Delay(wait < step ? wait : step, ct);
        }
    }

    // ---- instances in memory ----

    /// <summary>Takes the instance's lock, making its slot if it is not in memory, and (with <paramref name="load"/>)
    /// reads it from the store the first time. Without <paramref name="load"/> it only fails when cancelled.</summary>
    private async Task<HeldSlot> LockAsync(string id, CancellationToken ct, bool load = true, StoredInstance? preloaded = null)
    {
        InstanceSlot slot;
        lock (_slotsGate)
        {
            if (!_slots.TryGetValue(id, out slot!))
            {
                slot = new InstanceSlot(id);
                _slots.Add(id, slot);
            }
            slot.Users++; // from here on the slot stays in memory until this user lets go
        }
        try
        {
            await slot.Lock.WaitAsync(ct);
        }
        catch
        {
            Leave(slot);
            throw;
        }
        var held = new HeldSlot(this, slot);
        if (load && !slot.Loaded)
        {
            try
            {
                slot.Stored = preloaded ?? await _store.LoadAsync(id, ct);
                slot.Loaded = true;
            }
            catch
            {
                await held.DisposeAsync();
                throw;
            }
        }
        return held;
    }

    /// <summary>One user of the slot is done; the last one drops it from memory when nothing is under way.</summary>
    private void Leave(InstanceSlot slot)
    {
        bool dropped;
        lock (_slotsGate)
        {
            dropped = --slot.Users == 0 && slot.IsIdle;
            if (dropped)
            {
                _slots.Remove(slot.Id);
            }
        }
        if (dropped)
        {
            slot.NotifyChanged(); // waiters watching this copy look again, at the instance read anew
        }
    }

    /// <summary>How many instances are in memory (for tests).</summary>
    internal int SlotCount
    {
        get
        {
            lock (_slotsGate)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Writes the instance; when that fails the in-memory copy is dropped, to be reloaded from the store.</summary>
    private async Task SaveAsync(InstanceSlot slot, bool history, bool inbox, CancellationToken ct)
    {
        var s = slot.Stored!;
        s.Metadata.LastUpdatedTimestamp = Now();
        try
        {
            await _store.SaveAsync(slot.Id, s, history, inbox, ct);
        }
        catch
        {
            slot.Loaded = false;
            slot.Stored = null;
            ClearStep(slot);
            _ = ReloadLaterAsync(slot.Id);
            throw;
        }
        slot.NotifyChanged();
    }

    /// <summary>After a failed write or read the instance is read back from the store and its pending work resumed,
    /// as at start.</summary>
    private async Task ReloadLaterAsync(string id)
    {
        for (var attempt = 1; !_stop.IsCancellationRequested; attempt++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), _stop);
                await using var held = await LockAsync(id, _stop);
                var slot = held.Slot;
                // A step queued before the failure may have been dropped with it: queue it again.
                slot.Queued = false;
                if (slot.Stored is { } s && !IsTerminal(s.Metadata.WorkflowStatus))
                {
                    AfterCommit(slot, PendingActivities(s).ToList(), PendingTimers(s).ToList());
                    ArmScheduledStart(slot);
                    ScheduleIfReady(slot);
                }
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning("Workflow instance {InstanceId} could not be reloaded (attempt {Attempt}): {Reason}", id, attempt, ex.Message);
            }
        }
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

    /// <summary>An instance's lock, held: disposing releases it.</summary>
    private sealed class HeldSlot(WorkflowEngine engine, InstanceSlot slot) : IAsyncDisposable
    {
        public InstanceSlot Slot => slot;

        public ValueTask DisposeAsync()
        {
            slot.Lock.Release();
            engine.Leave(slot);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>One instance in memory: its stored state (null when there is none), its lock, and the step in flight.</summary>
    private sealed class InstanceSlot(string id)
    {
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Id { get; } = id;
        public SemaphoreSlim Lock { get; } = new(1, 1);
        public bool Loaded { get; set; }
        public StoredInstance? Stored { get; set; }
        public bool Queued { get; set; }

        /// <summary>Callers holding or waiting for <see cref="Lock"/>; guarded by the engine's slot table lock.</summary>
        public int Users { get; set; }

        /// <summary>A terminate is under way: no step is handed out until it is stored (or failed).</summary>
        public bool Terminating { get; set; }

        /// <summary>A step failed to commit and waits a moment before it runs again; how often in a row.</summary>
        public bool RetryingStep { get; set; }
        public int StepFailures { get; set; }
        /// <summary>The step in flight: its token, and whether a worker holds it now (it is queued to go out
        /// again when not) and how often it was handed out.</summary>
        public string? StepToken { get; set; }
        public bool StepHandedOut { get; set; }
        public int StepHandOuts { get; set; }
        public CancellationTokenSource? StepCancel { get; set; }
        public List<HistoryEvent>? StepEvents { get; set; }
        public int StepInboxCount { get; set; }

        /// <summary>Nothing is under way that needs the slot kept: it is finished, purged or was never there (or is
        /// unloaded after a failed write, which its reload reads again).</summary>
        public bool IsIdle => !Queued && StepToken is null && !Terminating && !RetryingStep
            && (Stored is null || IsTerminal(Stored.Metadata.WorkflowStatus));

        /// <summary>Completes at the next stored change of the instance.</summary>
        public Task Changed => Volatile.Read(ref _changed).Task;

        public void NotifyChanged() =>
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
