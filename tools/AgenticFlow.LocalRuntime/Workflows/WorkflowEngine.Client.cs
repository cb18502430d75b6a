using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Timing;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Client operations (start, get, wait, raise, suspend, resume, terminate, purge, list, history) and the
/// steps they share with a worker's answers: creating an instance and delivering an event to one.</summary>
public sealed partial class WorkflowEngine
{
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
        try
        {
            await RetryPolicy.UntilStored.RetryAsync(async attempt =>
            {
                try
                {
                    await DeliverChildResultAsync(parent, result, _stop);
                }
                catch (DaprError)
                {
                    // the parent was purged
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning("Termination report to parent workflow {Parent} could not be stored (attempt {Attempt}): {Reason}",
                        parent.WorkflowInstance?.InstanceId, attempt, ex.Message);
                    return false;
                }
                return true;
            }, _time, _stop);
        }
        catch (OperationCanceledException)
        {
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
}
