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

/// <summary>A <c>GetWorkItems</c> stream: items written to <see cref="Items"/> go out on it in order.</summary>
public sealed class WorkerConnection(int id, bool wantsHealthPings)
{
    public int Id { get; } = id;
    public bool WantsHealthPings { get; } = wantsHealthPings;
    public Channel<WorkItem> Items { get; } = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    public bool Connected { get; set; } = true;
}

/// <summary>
/// Hands work to connected workers, round robin, and remembers what each holds by completion token. When a worker's
/// stream ends, what it held goes back to the queue, so the next worker gets it. Work waits while no worker is
/// connected. One loop hands out work; nothing polls. <c>build</c> is offered a fresh token and returns the work
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
    private TaskCompletionSource _workerArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextWorker;
    private int _workerIds;

    public void Enqueue(PendingWork work) => _ready.Writer.TryWrite(work);

    public WorkerConnection Connect(bool wantsHealthPings)
    {
        var worker = new WorkerConnection(Interlocked.Increment(ref _workerIds), wantsHealthPings);
        lock (_gate)
        {
            _workers.Add(worker);
            _workerArrived.TrySetResult();
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
            if (_workers.Count == 0)
            {
                _workerArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            held = _inFlight.Where(kv => kv.Value.Worker == worker).Select(kv => (kv.Key, kv.Value.Work)).ToList();
            foreach (var (token, _) in held)
            {
                _inFlight.Remove(token);
            }
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
            return _inFlight.Remove(token, out var held) ? held.Work : null;
        }
    }

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
                }
            }
            if (!sent)
            {
                await ReturnAsync(work, held);
            }
        }
    }

    private async Task<WorkerConnection> NextWorkerAsync(CancellationToken ct)
    {
        while (true)
        {
            Task arrived;
            lock (_gate)
            {
                if (_workers.Count > 0)
                {
                    return _workers[_nextWorker++ % _workers.Count];
                }
                arrived = _workerArrived.Task;
            }
            await arrived.WaitAsync(ct);
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
