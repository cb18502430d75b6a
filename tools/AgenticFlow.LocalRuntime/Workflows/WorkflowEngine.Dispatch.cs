using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Handing work to the app's workers: the <c>GetWorkItems</c> streams, and when an instance's step is
/// queued, built, given back, or expired.</summary>
public sealed partial class WorkflowEngine
{
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
}
