using System.Threading.Channels;
using Dapr.DurableTask.Protobuf;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Work waiting for, or held by, a connected worker.</summary>
public abstract record PendingWork(string InstanceId);

/// <summary>One orchestration step of an instance; its content (history plus inbox) is read when it is handed out.</summary>
public sealed record OrchestrationWork(string InstanceId) : PendingWork(InstanceId);

/// <summary>One activity execution, identified by the instance's execution id and the scheduling event's id.</summary>
public sealed record ActivityWork(string InstanceId, string ExecutionId, int TaskId, TaskScheduledEvent Scheduled) : PendingWork(InstanceId);

/// <summary>A <c>GetWorkItems</c> stream: items written to <see cref="Items"/> go out on it in order. It holds at
/// most <see cref="Capacity"/> work items it has not completed.</summary>
public sealed class WorkerConnection(int id, bool wantsHealthPings, int capacity)
{
    public int Id { get; } = id;
    public bool WantsHealthPings { get; } = wantsHealthPings;
    public int Capacity { get; } = capacity;

    /// <summary>Work items handed out and not completed; guarded by the dispatcher's lock.</summary>
    public int Held { get; set; }
    public Channel<WorkItem> Items { get; } = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    public bool Connected { get; set; } = true;
}

/// <summary>
/// Hands work to connected workers, round robin, and remembers what each holds by completion token. When a worker's
/// stream ends, what it held goes back to the queue, so the next worker gets it. Work waits while no worker is
/// connected, or while every worker holds as much as it can take. One loop hands out work; nothing polls. <c>build</c> is offered a fresh token and returns the work
/// item to send, or null when the work is no longer needed; the item's token (which may be one given before) is the
/// one the work is held under.
/// </summary>
public sealed class WorkDispatcher(
    Func<PendingWork, string, Task<WorkItem?>> build,
    Func<PendingWork, string, Task> returned,
    ILogger logger)
{
    private readonly object _gate = new();
    private readonly Channel<PendingWork> _ready = Channel.CreateUnbounded<PendingWork>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<WorkerConnection> _workers = [];
    private readonly Dictionary<string, (PendingWork Work, WorkerConnection Worker)> _inFlight = new(StringComparer.Ordinal);
    // Completed when a worker connects or one lets go of a work item: the loop may hand out work again.
    private TaskCompletionSource _roomMade = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextWorker;
    private int _workerIds;

    public void Enqueue(PendingWork work) => _ready.Writer.TryWrite(work);

    /// <summary>How many work items one worker holds at most. The JavaScript SDK's worker runs 10 at once, keeps 100
    /// more waiting and silently drops any beyond that (a fan-out of 300 activities would wait forever), so no worker
    /// is sent more than that; the .NET and Python workers queue what they cannot run yet, and lose nothing by it.</summary>
    public const int Capacity = 100;

    public WorkerConnection Connect(bool wantsHealthPings)
    {
        var worker = new WorkerConnection(Interlocked.Increment(ref _workerIds), wantsHealthPings, Capacity);
        lock (_gate)
        {
            _workers.Add(worker);
            MakeRoom();
        }
        logger.LogInformation("Workflow worker {Worker} connected", worker.Id);
        return worker;
    }

    /// <summary>The worker's stream ended: everything it held and did not complete is handed out again.</summary>
    public async Task DisconnectAsync(WorkerConnection worker)
    {
        List<(string Token, PendingWork Work)> held;
        lock (_gate)
        {
            worker.Connected = false;
            _workers.Remove(worker);
            held = _inFlight.Where(kv => kv.Value.Worker == worker).Select(kv => (kv.Key, kv.Value.Work)).ToList();
            foreach (var (token, _) in held)
            {
                _inFlight.Remove(token);
            }
            worker.Held = 0;
        }
        worker.Items.Writer.TryComplete();
        logger.LogInformation("Workflow worker {Worker} disconnected; {Count} work items it held are queued again", worker.Id, held.Count);
        foreach (var (token, work) in held)
        {
            await ReturnAsync(work, token);
        }
    }

    /// <summary>Hands back work a worker did not complete. A failure here must not stop the dispatch loop or the
    /// rest of a disconnect; an activity is then queued again as is (a build skips it when it is no longer needed).</summary>
    private async Task ReturnAsync(PendingWork work, string token)
    {
        try
        {
            await returned(work, token);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not hand back a work item of workflow instance {InstanceId}", work.InstanceId);
            if (work is ActivityWork)
            {
                Enqueue(work);
            }
        }
    }

    /// <summary>Forgets the work a token was given for; false when it is not held (completed, or handed out again).</summary>
    public PendingWork? Complete(string token)
    {
        lock (_gate)
        {
            if (!_inFlight.Remove(token, out var held))
            {
                return null;
            }
            held.Worker.Held--;
            MakeRoom();
            return held.Work;
        }
    }

    /// <summary>Wakes the loop if it waits for a worker with room. Caller holds the lock.</summary>
    private void MakeRoom() => _roomMade.TrySetResult();

    /// <summary>The tokens under which workers hold an activity of <paramref name="instanceId"/> with task id
    /// <paramref name="taskId"/> (of any execution), for a completion that names the activity but carries no token.</summary>
    public List<(string Token, ActivityWork Work)> HeldActivities(string instanceId, int taskId)
    {
        lock (_gate)
        {
            return _inFlight.Where(kv => kv.Value.Work is ActivityWork a && a.InstanceId == instanceId && a.TaskId == taskId)
                .Select(kv => (kv.Key, (ActivityWork)kv.Value.Work)).ToList();
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        await foreach (var work in _ready.Reader.ReadAllAsync(ct))
        {
            var worker = await NextWorkerAsync(ct);
            var token = NewToken(work);
            WorkItem? item;
            try
            {
                item = await build(work, token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Could not build a work item for workflow instance {InstanceId}", work.InstanceId);
                continue;
            }
            if (item is null)
            {
                continue; // stale: the instance finished, or the step is no longer needed
            }
            // A step handed out again keeps the token it was first given.
            var held = item.CompletionToken;
            bool sent;
            lock (_gate)
            {
                sent = worker.Connected && worker.Items.Writer.TryWrite(item);
                if (sent)
                {
                    _inFlight[held] = (work, worker);
                    worker.Held++;
                }
            }
            if (!sent)
            {
                await ReturnAsync(work, held);
            }
        }
    }

    /// <summary>The next worker, round robin, that has room for another work item; waits while there is none.</summary>
    private async Task<WorkerConnection> NextWorkerAsync(CancellationToken ct)
    {
        while (true)
        {
            Task roomMade;
            lock (_gate)
            {
                for (var i = 0; i < _workers.Count; i++)
                {
                    var worker = _workers[(int)((uint)_nextWorker++ % (uint)_workers.Count)];
                    if (worker.Held < worker.Capacity)
                    {
                        return worker;
                    }
                }
                if (_roomMade.Task.IsCompleted)
                {
                    _roomMade = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                roomMade = _roomMade.Task;
            }
            await roomMade.WaitAsync(ct);
        }
    }

    /// <summary>Activity tokens carry the execution id and task id, so a completion that arrives after its work was
    /// handed out again, or after a restart of the runtime, still names exactly one activity of one execution.</summary>
    private static string NewToken(PendingWork work) => work switch
    {
        ActivityWork a => $"act:{a.ExecutionId}:{a.TaskId.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{Guid.NewGuid():N}",
        _ => $"orc:{Guid.NewGuid():N}",
    };

    public static bool TryParseActivityToken(string token, out string executionId, out int taskId)
    {
        executionId = "";
        taskId = -1;
        var parts = token.Split(':');
        return parts.Length == 4 && parts[0] == "act" && (executionId = parts[1]).Length > 0
            && int.TryParse(parts[2], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out taskId);
    }
}
