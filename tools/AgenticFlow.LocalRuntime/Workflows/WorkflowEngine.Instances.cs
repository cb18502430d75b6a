using AgenticFlow.LocalRuntime.Timing;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Instances in memory: one slot per instance with work under way, its lock, loading from and saving
/// to the store, and reloading after a failed write.</summary>
public sealed partial class WorkflowEngine
{
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
        try
        {
            await RetryPolicy.UntilStored.RetryAsync(async attempt =>
            {
                try
                {
                    await ReloadAsync(id);
                    return true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning("Workflow instance {InstanceId} could not be reloaded (attempt {Attempt}): {Reason}", id, attempt, ex.Message);
                    return false;
                }
            }, _time, _stop, waitFirst: true);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads the instance again and resumes its pending work, as at start.</summary>
    private async Task ReloadAsync(string id)
    {
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
