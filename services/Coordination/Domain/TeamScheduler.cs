namespace AgenticFlow.Coordination.Domain;

/// <summary>
/// The rules that move tasks between a team's board and its agents, with no I/O: submit, place waiting tasks,
/// take results, take tasks back from an agent that failed, left or missed a deadline. Each method changes the
/// board and the tasks in the ledger; the caller stores both in one transaction.
/// </summary>
public sealed class TeamScheduler(IDistributionStrategy strategy)
{
    public IDistributionStrategy Strategy => strategy;

    public async Task SubmitAsync(TeamBoard board, TaskLedger ledger, TaskRecord task, DateTimeOffset now, CancellationToken ct)
    {
        ledger.Add(task);
        task.History.Add(new TaskTransition(now, TaskState.Pending, null, null));
        board.Pending.Add(new PendingTask
        {
            TaskId = task.Id,
            Priority = task.Priority,
            Sequence = task.Sequence,
            RequiredCapabilities = task.RequiredCapabilities,
            AffinityKey = task.AffinityKey,
        });
        await PlacePendingAsync(board, ledger, now, ct);
    }

    /// <summary>Gives waiting tasks to agents, highest priority first and oldest first within one priority, as long
    /// as someone can take them. A task that fits nobody stays pending; tasks behind it may still fit others.</summary>
    public async Task PlacePendingAsync(TeamBoard board, TaskLedger ledger, DateTimeOffset now, CancellationToken ct)
    {
        if (!board.IsOpen || board.Pending.Count == 0)
        {
            return;
        }
        var order = board.Pending.OrderByDescending(p => p.Priority).ThenBy(p => p.Sequence).ToList();
        foreach (var pending in order)
        {
            if (!board.Members.Any(m => m.HasCapacity && m.Healthy))
            {
                break;
            }
            var needs = new TaskNeeds(pending.TaskId, pending.RequiredCapabilities, pending.AffinityKey);
            bool Fits(Member m) => m.Healthy && m.HasCapacity && m.Holds(pending.RequiredCapabilities);
            // Agents the task failed on or was taken from come last: only when nobody else can take it.
            var member = strategy.Choose(board, needs, m => Fits(m) && !pending.Avoid.Contains(m.AgentId))
                ?? (pending.Avoid.Count > 0 ? strategy.Choose(board, needs, Fits) : null);
            if (member is null)
            {
                continue;
            }
            var task = await ledger.GetAsync(pending.TaskId, ct);
            board.Pending.Remove(pending);
            if (task is null || task.State != TaskState.Pending)
            {
                continue;
            }
            task.Assign(member.AgentId, now);
            member.Open.Add(new OpenTask { TaskId = task.Id, AssignedAt = now, DueAt = task.DueAt });
            ledger.Touch(task);
            ledger.ToDispatch.Add(task);
        }
    }

    /// <summary>The agent accepted the task it was sent.</summary>
    public async Task<bool> MarkRunningAsync(TeamBoard board, TaskLedger ledger, string taskId, string agentId, DateTimeOffset now, CancellationToken ct)
    {
        var open = board.Member(agentId)?.Open.Find(o => o.TaskId == taskId);
        var task = await ledger.GetAsync(taskId, ct);
        if (open is null || task is null || !task.MarkRunning(agentId, now))
        {
            return false;
        }
        open.Running = true;
        open.Dispatched = true;
        ledger.Touch(task);
        return true;
    }

    /// <summary>A result from an agent. Completion frees its slot for the next waiting task; a failure sends the task
    /// back to pending (tried elsewhere first) until its attempts run out.</summary>
    public async Task<ResultOutcome?> ReportAsync(TeamBoard board, TaskLedger ledger, string taskId, string agentId, bool completed,
        System.Text.Json.JsonElement? output, string? error, int? attempt, DateTimeOffset now, CancellationToken ct)
    {
        if (await ledger.GetAsync(taskId, ct) is not { } task)
        {
            return null;
        }
        var outcome = completed ? task.Complete(agentId, output, now, attempt) : task.Fail(agentId, error, now, attempt);
        if (outcome is ResultOutcome.Duplicate or ResultOutcome.NotAssignee)
        {
            return outcome;
        }
        ledger.Touch(task);
        board.Member(agentId)?.Open.RemoveAll(o => o.TaskId == taskId);
        if (task.State == TaskState.Completed)
        {
            board.RecordCompletion(task.CreatedAt, now);
        }
        else if (task.State == TaskState.Failed)
        {
            board.Failed++;
        }
        else
        {
            Requeue(board, task, agentId);
        }
        await PlacePendingAsync(board, ledger, now, ct);
        return outcome;
    }

    /// <summary>Takes every open task from an agent (it became unhealthy, is draining, or left) and places them again.
    /// With <paramref name="remove"/> the agent also leaves the team; otherwise it is marked unhealthy.</summary>
    public async Task<int> ReleaseAgentAsync(TeamBoard board, TaskLedger ledger, string agentId, string reason, bool remove, DateTimeOffset now, CancellationToken ct)
    {
        if (board.Member(agentId) is not { } member)
        {
            return 0;
        }
        var released = 0;
        foreach (var open in member.Open.ToList())
        {
            released += await ReleaseAsync(board, ledger, member, open, reason, now, ct) ? 1 : 0;
        }
        if (remove)
        {
            board.Members.Remove(member);
            board.RoundRobinNext = board.Members.Count == 0 ? 0 : board.RoundRobinNext % board.Members.Count;
        }
        else
        {
            member.Healthy = false;
        }
        await PlacePendingAsync(board, ledger, now, ct);
        return released;
    }

    /// <summary>Takes back tasks whose agent let the attempt's deadline pass, and places them again.</summary>
    public async Task<int> ExpireAsync(TeamBoard board, TaskLedger ledger, DateTimeOffset now, CancellationToken ct)
    {
        var expired = 0;
        foreach (var member in board.Members)
        {
            foreach (var open in member.Open.Where(o => o.DueAt is { } due && due <= now).ToList())
            {
                expired += await ReleaseAsync(board, ledger, member, open, "deadline missed", now, ct) ? 1 : 0;
            }
        }
        if (expired > 0)
        {
            await PlacePendingAsync(board, ledger, now, ct);
        }
        return expired;
    }

    /// <summary>The team ends: every waiting and open task fails, and no agent holds any of them any more.</summary>
    public async Task DisbandAsync(TeamBoard board, TaskLedger ledger, DateTimeOffset now, CancellationToken ct)
    {
        var open = board.Members.SelectMany(m => m.Open.Select(o => o.TaskId)).Concat(board.Pending.Select(p => p.TaskId)).ToList();
        foreach (var taskId in open)
        {
            if (await ledger.GetAsync(taskId, ct) is { IsFinished: false } task)
            {
                task.Cancel("team disbanded", now);
                ledger.Touch(task);
                board.Failed++;
            }
        }
        board.Pending.Clear();
        board.Members.ForEach(m => m.Open.Clear());
        board.Status = TeamStatus.Disbanded;
        board.DisbandedAt = now;
    }

    private async Task<bool> ReleaseAsync(TeamBoard board, TaskLedger ledger, Member member, OpenTask open, string reason, DateTimeOffset now, CancellationToken ct)
    {
        member.Open.Remove(open);
        if (await ledger.GetAsync(open.TaskId, ct) is not { IsOpen: true } task || task.AgentId != member.AgentId)
        {
            return false;
        }
        ledger.Touch(task);
        if (task.Release(reason, now))
        {
            Requeue(board, task, member.AgentId);
        }
        else
        {
            board.Failed++;
        }
        return true;
    }

    private static void Requeue(TeamBoard board, TaskRecord task, string previousAgent) => board.Pending.Add(new PendingTask
    {
        TaskId = task.Id,
        Priority = task.Priority,
        // Its place in the queue is its submission's: a task taken back goes before tasks submitted after it.
        Sequence = task.Sequence,
        RequiredCapabilities = task.RequiredCapabilities,
        AffinityKey = task.AffinityKey,
        Avoid = [.. task.TriedAgents.Append(previousAgent).Distinct(StringComparer.Ordinal)],
    });
}
