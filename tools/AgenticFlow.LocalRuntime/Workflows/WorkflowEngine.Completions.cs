using AgenticFlow.LocalRuntime.Timing;
using Dapr.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>
/// Taking a worker's answer, the way daprd's backend takes it: a step's answer by instance id, an activity's by
/// instance id and task id. The completion token is what the .NET and Python SDKs send back; JavaScript's (and other
/// durabletask clients) send none. So the token is only a further check when present: what makes an answer stale
/// or a duplicate is the instance's state.
/// <list type="bullet">
/// <item>A step's answer is taken while that instance has a step out (handed out, or waiting to go out again after
/// its worker left: every hand-out of one step carries the same events). It is ignored when no step is out (it was
/// answered already, or terminate, purge or a failed commit dropped it), when its token names another step, or when
/// it schedules ids the history already holds (an answer to an earlier step).</item>
/// <item>An activity's answer is taken while the named task of the current execution is scheduled and has no result.
/// Without a token, a worker holding that task for an older execution (before a continue-as-new) makes it stale.</item>
/// </list>
/// </summary>
public sealed partial class WorkflowEngine
{
    /// <summary>Stores a worker's answer to a step. The caller's token is not used: once the answer is here it is
    /// either stored or the step is let go to run again, never left half-way. The dispatcher forgets the work item
    /// only then, so a worker that goes away meanwhile hands it back.</summary>
    public async Task CompleteOrchestratorAsync(WorkflowResponse response, CancellationToken ct)
    {
        var id = response.InstanceId;
        string? token = null;
        try
        {
            StepPlan plan;
            await using (var held = await LockAsync(WorkflowErrors.CheckInstanceId(id), _stop))
            {
                var slot = held.Slot;
                if (slot.Stored is not { } s || !AnswersStepOut(slot, response))
                {
                    _logger.LogDebug("Ignored a workflow step result for {InstanceId}: it answers no step that is out", id);
                    if (response.CompletionToken is { Length: > 0 } stale && stale != slot.StepToken)
                    {
                        _dispatcher.Complete(stale); // its worker is done with it
                    }
                    return;
                }
                token = slot.StepToken!;
                plan = Plan(s, slot.StepEvents!, slot.StepInboxCount, response);
            }

            var ownEvents = new List<HistoryEvent>();
            foreach (var effect in plan.Effects)
            {
                await effect(ownEvents);
            }
            await using (var held = await LockAsync(id, _stop))
            {
                var slot = held.Slot;
                if (slot.Stored is not { } s || slot.StepToken != token)
                {
                    return; // terminated or purged while the effects ran
                }
                var executionId = s.Metadata.ExecutionId;
                Apply(s, plan, ownEvents);
                await SaveAsync(slot, history: true, inbox: true, _stop);
                ClearStep(slot);
                slot.StepFailures = 0;
                if (plan.Completion?.WorkflowStatus == OrchestrationStatus.ContinuedAsNew || IsTerminal(s.Metadata.WorkflowStatus))
                {
                    EndExecution(id, executionId);
                }
                else
                {
                    AfterCommit(slot, plan.Activities, plan.Timers);
                }
                ScheduleIfReady(slot);
            }
        }
        catch (Exception ex) when (token is not null)
        {
            // Not stored: let the step go so it runs again, after a pause so a store outage is not hammered
            // (from the store's state when the write failed: that reload schedules it).
            await using (var held = await LockAsync(id, CancellationToken.None, load: false))
            {
                var slot = held.Slot;
                if (slot.StepToken == token)
                {
                    ClearStep(slot);
                    slot.StepFailures++;
                    slot.RetryingStep = true;
                    _ = RetryStepLaterAsync(id, slot.StepFailures);
                }
            }
            if (ex is OperationCanceledException)
            {
                return; // the engine is stopping
            }
            throw;
        }
        finally
        {
            if (token is not null)
            {
                _dispatcher.Complete(token);
            }
        }
    }

    /// <summary>True when <paramref name="response"/> answers the step the instance has out. Caller holds the lock.</summary>
    private static bool AnswersStepOut(InstanceSlot slot, WorkflowResponse response)
    {
        if (slot.StepToken is null || IsTerminal(slot.Stored!.Metadata.WorkflowStatus))
        {
            return false;
        }
        if (!string.IsNullOrEmpty(response.CompletionToken) && response.CompletionToken != slot.StepToken)
        {
            return false;
        }
        // SDKs answer a step with the tasks, timers, children and events it newly scheduled: an id the history
        // already holds was scheduled by an earlier step, so this answers that one. (Completion actions carry no such
        // id: the .NET SDK numbers them 0.)
        var history = slot.Stored.History;
        return !response.Actions.Any(a => SchedulesEvent(a) && history.Any(e => e.EventId == a.Id));
    }

    /// <summary>Actions whose id becomes the <c>EventId</c> of a history event (see <see cref="Plan"/>).</summary>
    private static bool SchedulesEvent(WorkflowAction action) => action.WorkflowActionTypeCase is
        WorkflowAction.WorkflowActionTypeOneofCase.ScheduleTask or WorkflowAction.WorkflowActionTypeOneofCase.CreateTimer
        or WorkflowAction.WorkflowActionTypeOneofCase.CreateChildWorkflow or WorkflowAction.WorkflowActionTypeOneofCase.CreateDetachedWorkflow
        or WorkflowAction.WorkflowActionTypeOneofCase.SendEvent;

    private async Task RetryStepLaterAsync(string id, int attempt)
    {
        try
        {
            await Task.Delay(RetryPolicy.UntilStored.DelayFor(attempt), _time, _stop);
            await using var held = await LockAsync(id, _stop, load: false);
            held.Slot.RetryingStep = false;
            if (held.Slot.Loaded)
            {
                ScheduleIfReady(held.Slot);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stores an activity's result. Like a step's, it is forgotten by the dispatcher only once stored; when
    /// it cannot be stored the activity is queued again.</summary>
    public async Task CompleteActivityAsync(ActivityResponse response, CancellationToken ct)
    {
        var id = WorkflowErrors.CheckInstanceId(response.InstanceId);
        string? executionId = null;
        var taskId = response.TaskId;
        string? token = null;
        if (!string.IsNullOrEmpty(response.CompletionToken))
        {
            token = response.CompletionToken;
            if (!WorkDispatcher.TryParseActivityToken(token, out var tokenExecution, out taskId))
            {
                throw WorkflowErrors.Invalid("ERR_MALFORMED_REQUEST", "the completion token does not name an activity work item");
            }
            executionId = tokenExecution;
        }
        var saving = false;
        try
        {
            await using var held = await LockAsync(id, _stop);
            var slot = held.Slot;
            if (token is null && slot.Stored is { } current)
            {
                (executionId, token) = ResolveActivity(id, taskId, current.Metadata.ExecutionId);
            }
            if (slot.Stored is not { } s || IsTerminal(s.Metadata.WorkflowStatus) || s.Metadata.ExecutionId != executionId
                || !IsScheduledTask(s, taskId) || HasTaskResult(s, taskId))
            {
                _logger.LogDebug("Ignored the result of activity {TaskId} of {InstanceId}: it is not outstanding", taskId, id);
                if (token is not null)
                {
                    _dispatcher.Complete(token); // its worker is done with it
                }
                return;
            }
            var executionKey = s.History.First(e => e.EventId == taskId && e.TaskScheduled is not null).TaskScheduled.TaskExecutionId;
            var result = response.FailureDetails is { } failure
                ? New(e => e.TaskFailed = new TaskFailedEvent { TaskScheduledId = taskId, FailureDetails = failure, TaskExecutionId = executionKey })
                : New(e => e.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = taskId, Result = response.Result, TaskExecutionId = executionKey });
            s.Inbox.Add(result);
            saving = true;
            await SaveAsync(slot, history: false, inbox: true, _stop);
            if (token is not null)
            {
                _dispatcher.Complete(token);
            }
            ScheduleIfReady(slot);
        }
        catch
        {
            // Not stored, so it must run again. After a failed write the reload queues every pending activity itself.
            // Without a token, every holder of the task is let go: a build skips those no longer needed.
            var holders = token is not null ? [token] : _dispatcher.HeldActivities(id, taskId).Select(h => h.Token).ToList();
            foreach (var holder in holders)
            {
                if (_dispatcher.Complete(holder) is { } work && !saving)
                {
                    _dispatcher.Enqueue(work);
                }
            }
            throw;
        }
    }

    /// <summary>For an answer without a token: the execution it belongs to, and the token a worker holds it under.
    /// A worker holding the task for the current execution names it; one holding it only for an older execution
    /// makes the answer that one's (stale). Held by no worker (handed out before a restart, or queued again), it is
    /// the current execution's, and its state decides.</summary>
    private (string ExecutionId, string? Token) ResolveActivity(string id, int taskId, string currentExecution)
    {
        var holders = _dispatcher.HeldActivities(id, taskId);
        if (holders.FirstOrDefault(h => h.Work.ExecutionId == currentExecution) is { Token: not null } mine)
        {
            return (currentExecution, mine.Token);
        }
        return holders.Count > 0 ? (holders[0].Work.ExecutionId, holders[0].Token) : (currentExecution, null);
    }
}
