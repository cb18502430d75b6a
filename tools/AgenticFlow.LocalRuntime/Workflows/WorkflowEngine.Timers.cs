using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Timing;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Durable timers and scheduled starts: armed after each commit and at start, fired into the instance's
/// inbox once stored, dropped when their execution ends.</summary>
public sealed partial class WorkflowEngine
{
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
        RunDetached(async () =>
        {
            try
            {
                await _time.DelayUntilAsync(fireAt, executionEnded);
                await FireTimerAsync(id, executionId, timerId, fireAt, executionEnded);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _armedTimers.TryRemove($"{id}\n{executionId}\n{timerId}", out _);
            }
        });
    }

    private async Task FireTimerAsync(string id, string executionId, int timerId, DateTime fireAt, CancellationToken executionEnded)
    {
        var fired = New(e => e.TimerFired = new TimerFiredEvent { TimerId = timerId, FireAt = Timestamp.FromDateTime(fireAt) });
        await RetryPolicy.UntilStored.RetryAsync(async attempt =>
        {
            try
            {
                await DeliverAsync(id, "ERR_TIMER", fired, s => s.Metadata.ExecutionId == executionId && !HasTimerFired(s, timerId), _stop);
            }
            catch (DaprError)
            {
                // the instance was purged
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is unreachable: the timer is durable, so keep trying until it is stored.
                _logger.LogWarning("Timer {TimerId} of workflow {InstanceId} could not be stored (attempt {Attempt}): {Reason}", timerId, id, attempt, ex.Message);
                return false;
            }
            return true;
        }, _time, executionEnded);
    }

    private void ArmScheduledStart(InstanceSlot slot)
    {
        if (slot.Stored?.Metadata is { WorkflowStatus: OrchestrationStatus.Pending, ScheduledStartTimestamp: { } start } m && start.ToDateTimeOffset() > _time.GetUtcNow())
        {
            var id = slot.Id;
            var executionEnded = ExecutionToken(id, m.ExecutionId);
            RunDetached(async () =>
            {
                try
                {
                    await _time.DelayUntilAsync(start.ToDateTimeOffset(), executionEnded);
                    await using var held = await LockAsync(id, _stop);
                    ScheduleIfReady(held.Slot);
                }
                catch (OperationCanceledException)
                {
                }
            });
        }
    }

    /// <summary>Starts a timer's or a scheduled start's wait without the execution context of the call that armed it:
    /// its firing is work of its own, and that call's trace context (an AsyncLocal) would otherwise ride on it.</summary>
    private static void RunDetached(Func<Task> work)
    {
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(work, CancellationToken.None);
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
}
