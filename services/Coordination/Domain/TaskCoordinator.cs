using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Domain;

public sealed record NewTask(string Description, JsonElement? Input, List<string> RequiredCapabilities, TaskPriority Priority, DateTimeOffset? Deadline, string? AffinityKey);

/// <summary><c>Replayed</c>: the idempotency key already created a task in this team; that task is the answer.</summary>
public enum SubmitStatus { Accepted, UnknownTeam, TeamClosed, Replayed }

public sealed record SubmitResult(SubmitStatus Status, TaskRecord? Task);

public enum ReportStatus { Applied, Duplicate, NotAssignee, UnknownTask }

/// <summary>
/// Runs a team's tasks: stores each submission and the agent it goes to in one transaction with the team's board,
/// sends assigned tasks to their agents off the request path, takes results, and takes tasks back from agents that
/// fail, leave or miss a deadline. The rules themselves are <see cref="TeamScheduler"/>'s.
/// </summary>
public sealed partial class TaskCoordinator(
    CoordinationStore store,
    IAgentsClient agents,
    DaprClient dapr,
    IOptions<CoordinationOptions> options,
    TimeProvider time,
    ILogger<TaskCoordinator> logger,
    Routing.TaskRouterAdvice advice)
{
    private readonly ConcurrentDictionary<string, TeamScheduler> _schedulers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSend = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastHealthCheck = new(StringComparer.Ordinal);
    private readonly Channel<TaskRecord> _outbox = Channel.CreateUnbounded<TaskRecord>();

    /// <summary>Tasks their agents accepted, per team, not yet marked running on the board: marked together by the
    /// team's next change, so a busy team pays one board write per submission rather than two.</summary>
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(string TaskId, string AgentId)>> _accepted = new(StringComparer.Ordinal);

    public ChannelReader<TaskRecord> Outbox => _outbox.Reader;

    private TeamScheduler SchedulerOf(TeamBoard board) =>
        _schedulers.AddOrUpdate(board.Id, _ => new TeamScheduler(Strategies.For(board.Strategy, advice, options.Value.LearnedMinConfidence)),
            (_, existing) => existing.Strategy.Name == board.Strategy ? existing : new TeamScheduler(Strategies.For(board.Strategy, advice, options.Value.LearnedMinConfidence)));

    /// <summary>Creates a task and places it. With <paramref name="idempotencyKey"/> (already scoped to its caller), a
    /// key used in this team within a day answers the task it created and creates nothing: checked under the team's
    /// ETag and remembered in the same transaction as the task, so two concurrent submits with one key make one task.</summary>
    public async Task<SubmitResult> SubmitAsync(string teamId, NewTask request, CancellationToken ct, string? idempotencyKey = null)
    {
        List<(string TaskId, string AgentId)>? accepted = null;
        // A learned team's advice is asked before the team is locked (a slow neural must not hold up the team's other
        // changes); only the first submit after a start, before this process knows the team's strategy, asks inside.
        var askedBefore = _schedulers.TryGetValue(teamId, out var known) && known.Strategy.Name == Strategies.Learned;
        var preAsked = askedBefore ? await advice.AskAsync(request.Description, request.RequiredCapabilities, teamId, ct) : null;
        var (result, toSend) = await store.ChangeTeamAsync<(SubmitResult, IReadOnlyList<TaskRecord>)>(teamId, async change =>
        {
            accepted ??= DrainAccepted(teamId);
            if (change is null)
            {
                return (false, (new SubmitResult(SubmitStatus.UnknownTeam, null), []));
            }
            var board = change.Board;
            if (idempotencyKey is not null && await store.SubmittedAsync(teamId, idempotencyKey, ct) is { } earlierId
                && await change.Tasks.GetAsync(earlierId, ct) is { } earlier)
            {
                return (false, (new SubmitResult(SubmitStatus.Replayed, earlier), []));
            }
            if (!board.IsOpen)
            {
                return (false, (new SubmitResult(SubmitStatus.TeamClosed, null), []));
            }
            var now = time.GetUtcNow();
            await MarkAcceptedAsync(change, accepted, now, ct);
            var sequence = ++board.TaskSequence;
            var task = new TaskRecord
            {
                Id = TaskId(teamId, sequence),
                TeamId = teamId,
                Sequence = sequence,
                Description = request.Description,
                Input = request.Input,
                RequiredCapabilities = request.RequiredCapabilities,
                Priority = request.Priority,
                AffinityKey = request.AffinityKey,
                Deadline = request.Deadline,
                AttemptTime = request.Deadline is { } deadline ? deadline - now : null,
                MaxAttempts = options.Value.MaxAttempts,
                CreatedAt = now,
            };
            if (board.Strategy == Strategies.Learned)
            {
                if (preAsked is { } answer)
                {
                    advice.Remember(task.Id, answer);
                }
                else if (!askedBefore)
                {
                    await advice.PrepareAsync(task, ct);
                }
            }
            await SchedulerOf(board).SubmitAsync(board, change.Tasks, task, now, ct);
            if (idempotencyKey is not null)
            {
                change.Writes.Add(CoordinationStore.RememberSubmission(teamId, idempotencyKey, task.Id));
            }
            return (true, (new SubmitResult(SubmitStatus.Accepted, task), change.Tasks.ToDispatch));
        }, ct);
        Send(toSend);
        return result;
    }

    /// <summary>Task ids carry their team and number, so a team's tasks can be listed by number without an index.</summary>
    public static string TaskId(string teamId, long sequence) => $"{teamId}-{sequence}";

    public async Task<ReportStatus> ReportAsync(string taskId, string agentId, bool completed, JsonElement? output, string? error, int? attempt, CancellationToken ct)
    {
        if (await store.GetTaskAsync(taskId, ct) is not { } stored)
        {
            return ReportStatus.UnknownTask;
        }
        var (status, toSend, finished) = await store.ChangeTeamAsync<(ReportStatus, IReadOnlyList<TaskRecord>, TaskRecord?)>(stored.TeamId, async change =>
        {
            if (change is null)
            {
                return (false, (ReportStatus.UnknownTask, [], null));
            }
            var outcome = await SchedulerOf(change.Board).ReportAsync(change.Board, change.Tasks, taskId, agentId, completed, output, error, attempt, time.GetUtcNow(), ct);
            var task = await change.Tasks.GetAsync(taskId, ct);
            return outcome switch
            {
                null => (false, (ReportStatus.UnknownTask, [], null)),
                ResultOutcome.Duplicate => (false, (ReportStatus.Duplicate, [], null)),
                ResultOutcome.NotAssignee => (false, (ReportStatus.NotAssignee, [], null)),
                _ => (true, (ReportStatus.Applied, change.Tasks.ToDispatch, task!.IsFinished ? task : null)),
            };
        }, ct);
        Send(toSend);
        if (finished is not null)
        {
            await dapr.TryPublishEventAsync(options.Value.PubSub, finished.State == TaskState.Completed ? CoordinationEvents.TaskCompleted : CoordinationEvents.TaskFailed,
                new { taskId = finished.Id, teamId = finished.TeamId, agentId = finished.AgentId, state = finished.State, attempts = finished.Attempts, error = finished.Error, at = finished.FinishedAt }, logger);
        }
        return status;
    }

    /// <summary>The agent is unhealthy (<paramref name="leave"/> false) or leaves its team (true): its open tasks go to others.</summary>
    public async Task<int> ReleaseAgentAsync(string agentId, string reason, bool leave, CancellationToken ct)
    {
        if (await store.GetMembershipAsync(agentId, ct) is not { } membership)
        {
            return 0;
        }
        var (released, toSend) = await store.ChangeTeamAsync<(int, IReadOnlyList<TaskRecord>)>(membership.TeamId, async change =>
        {
            if (change?.Board.Member(agentId) is null)
            {
                if (leave)
                {
                    change?.Writes.Add(CoordinationStore.Leave(agentId));
                }
                return (change is not null && leave, (0, []));
            }
            var count = await SchedulerOf(change.Board).ReleaseAgentAsync(change.Board, change.Tasks, agentId, reason, leave, time.GetUtcNow(), ct);
            if (leave)
            {
                change.Writes.Add(CoordinationStore.Leave(agentId));
            }
            return (true, (count, change.Tasks.ToDispatch));
        }, ct);
        if (leave && released == 0)
        {
            // No team holds it any more (or it never joined one): nothing else may keep it reserved.
            await store.ReleaseAsync([agentId], membership.TeamId, ct);
        }
        Send(toSend);
        LogReleased(agentId, released, reason);
        return released;
    }

    /// <summary>Members leave (their open tasks go to the others) and reserved agents join; waiting tasks are placed.</summary>
    public async Task<MembersChange> ApplyMembersAsync(string teamId, IReadOnlyList<string> remove, IReadOnlyList<AgentInfo> joining, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var (outcome, toSend) = await store.ChangeTeamAsync<(MembersChange, IReadOnlyList<TaskRecord>)>(teamId, async change =>
        {
            if (change is null || !change.Board.IsOpen)
            {
                return (false, (change is null ? MembersChange.UnknownTeam : MembersChange.TeamClosed, []));
            }
            var scheduler = SchedulerOf(change.Board);
            foreach (var agentId in remove.Distinct(StringComparer.Ordinal).Where(a => change.Board.Member(a) is not null))
            {
                await scheduler.ReleaseAgentAsync(change.Board, change.Tasks, agentId, "removed from the team", remove: true, now, ct);
                change.Writes.Add(CoordinationStore.Leave(agentId));
            }
            foreach (var agent in joining.Where(a => change.Board.Member(a.Id) is null))
            {
                change.Board.Members.Add(TeamMembers.From(agent, now));
                change.Writes.Add(store.Join(agent.Id, teamId, now));
            }
            await scheduler.PlacePendingAsync(change.Board, change.Tasks, now, ct);
            return (true, (MembersChange.Done, change.Tasks.ToDispatch));
        }, ct);
        Send(toSend);
        return outcome;
    }

    /// <summary>Ends a team: its waiting and open tasks fail, and its members are free to join other teams.
    /// False when there is no such team.</summary>
    public Task<bool> DisbandAsync(string teamId, CancellationToken ct) =>
        store.ChangeTeamAsync<bool>(teamId, async change =>
        {
            if (change is null)
            {
                return (false, false);
            }
            if (change.Board.Status != TeamStatus.Active)
            {
                return (false, true);
            }
            await SchedulerOf(change.Board).DisbandAsync(change.Board, change.Tasks, time.GetUtcNow(), ct);
            change.Writes.AddRange(change.Board.Members.Select(m => CoordinationStore.Leave(m.AgentId)));
            return (true, true);
        }, ct);

    /// <summary>The agent is healthy again: it may take tasks, and waiting ones are placed.</summary>
    public async Task MarkHealthyAsync(string agentId, CancellationToken ct)
    {
        if (await store.GetMembershipAsync(agentId, ct) is not { } membership)
        {
            return;
        }
        var toSend = await store.ChangeTeamAsync<IReadOnlyList<TaskRecord>>(membership.TeamId, async change =>
        {
            if (change?.Board.Member(agentId) is not { Healthy: false } member)
            {
                return (false, []);
            }
            member.Healthy = true;
            await SchedulerOf(change.Board).PlacePendingAsync(change.Board, change.Tasks, time.GetUtcNow(), ct);
            return (true, change.Tasks.ToDispatch);
        }, ct);
        Send(toSend);
    }

    /// <summary>Sends a task to its agent; the agent accepting it makes it running. A task its agent refuses is taken
    /// back from that agent; one that cannot be sent now waits for the sweep to send it again.</summary>
    public async Task DeliverAsync(TaskRecord task, CancellationToken ct)
    {
        var agentId = task.AgentId!;
        _lastSend[task.Id] = time.GetUtcNow();
        var delivery = await agents.SendTaskAsync(agentId, new
        {
            taskId = task.Id,
            attempt = task.Attempts,
            teamId = task.TeamId,
            description = task.Description,
            input = task.Input,
            requiredCapabilities = task.RequiredCapabilities,
            deadline = task.DueAt,
        }, ct);
        switch (delivery)
        {
            case Delivery.Accepted:
                _accepted.GetOrAdd(task.TeamId, _ => new ConcurrentQueue<(string, string)>()).Enqueue((task.Id, agentId));
                _lastSend.TryRemove(task.Id, out _);
                await FlushAcceptedAsync(task.TeamId, ct);
                break;
            case Delivery.UnknownAgent:
                await ReleaseAgentAsync(agentId, "agent is no longer registered", leave: true, ct);
                break;
            case Delivery.Refused:
                await ReleaseAgentAsync(agentId, "agent refused the task (draining)", leave: false, ct);
                break;
            default:
                LogNotDelivered(task.Id, agentId);
                break;
        }
    }

    /// <summary>Marks running the accepted tasks no other change of the team has marked yet.</summary>
    private async Task FlushAcceptedAsync(string teamId, CancellationToken ct)
    {
        if (!_accepted.TryGetValue(teamId, out var queue) || queue.IsEmpty)
        {
            return;
        }
        List<(string TaskId, string AgentId)>? accepted = null;
        var toSend = await store.ChangeTeamAsync<IReadOnlyList<TaskRecord>>(teamId, async change =>
        {
            accepted ??= DrainAccepted(teamId);
            return change is not null && await MarkAcceptedAsync(change, accepted, time.GetUtcNow(), ct)
                ? (true, change.Tasks.ToDispatch)
                : (false, []);
        }, ct);
        Send(toSend);
    }

    private List<(string TaskId, string AgentId)> DrainAccepted(string teamId)
    {
        var drained = new List<(string, string)>();
        if (_accepted.TryGetValue(teamId, out var queue))
        {
            while (queue.TryDequeue(out var item))
            {
                drained.Add(item);
            }
        }
        return drained;
    }

    /// <summary>True when any of the tasks was still assigned to the agent that accepted it (and is now running).</summary>
    private async Task<bool> MarkAcceptedAsync(TeamChange change, List<(string TaskId, string AgentId)> accepted, DateTimeOffset now, CancellationToken ct)
    {
        var marked = false;
        foreach (var (taskId, agentId) in accepted)
        {
            marked |= await SchedulerOf(change.Board).MarkRunningAsync(change.Board, change.Tasks, taskId, agentId, now, ct);
        }
        return marked;
    }

    /// <summary>One pass over every team: tasks past their attempt's deadline go to other agents, and tasks assigned
    /// but never accepted are sent again. Writes only when something expired.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var resend = TimeSpan.FromSeconds(options.Value.RedispatchSeconds);
        var teams = await store.GetTeamsAsync(await store.TeamIdsAsync(ct), ct);
        // Re-send times are kept only for tasks some member still holds open: finished, refused or reassigned ones
        // leave the map here, so it stays as large as the open work.
        var stillOpen = teams.Where(b => b.IsOpen).SelectMany(b => b.Members).SelectMany(m => m.Open).Select(o => o.TaskId).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _lastSend.Keys.Where(id => !stillOpen.Contains(id)).ToList())
        {
            _lastSend.TryRemove(gone, out _);
        }
        foreach (var board in teams.Where(b => b.IsOpen))
        {
            var open = board.Members.SelectMany(m => m.Open).ToList();
            if (open.Any(o => o.DueAt is { } due && due <= now))
            {
                var toSend = await store.ChangeTeamAsync<IReadOnlyList<TaskRecord>>(board.Id, async change =>
                {
                    if (change is null)
                    {
                        return (false, []);
                    }
                    var expired = await SchedulerOf(change.Board).ExpireAsync(change.Board, change.Tasks, now, ct);
                    return (expired > 0, change.Tasks.ToDispatch);
                }, ct);
                Send(toSend);
            }
            await RecheckUnhealthyAsync(board, now, resend, ct);
            var stale = open.Where(o => !o.Running && o.AssignedAt + resend <= now
                && (!_lastSend.TryGetValue(o.TaskId, out var last) || last + resend <= now)).Select(o => o.TaskId).ToList();
            foreach (var task in await store.GetTasksAsync(stale, ct))
            {
                if (task.State == TaskState.Assigned)
                {
                    _lastSend[task.Id] = now;
                    Send([task]);
                }
            }
        }
    }

    /// <summary>A member marked unhealthy here without the agents service saying so (it refused a task while draining,
    /// and the drain was then called off) would never hear an <c>agents.healthy</c> event: every re-send interval, such
    /// members are looked up and taken back when the agents service says they can work.</summary>
    private async Task RecheckUnhealthyAsync(TeamBoard board, DateTimeOffset now, TimeSpan every, CancellationToken ct)
    {
        foreach (var member in board.Members.Where(m => !m.Healthy))
        {
            if (_lastHealthCheck.TryGetValue(member.AgentId, out var last) && last + every > now)
            {
                continue;
            }
            _lastHealthCheck[member.AgentId] = now;
            try
            {
                if (await agents.GetAsync(member.AgentId, ct) is { Usable: true })
                {
                    await MarkHealthyAsync(member.AgentId, ct);
                }
            }
            catch (HttpRequestException)
            {
                // The agents service is away: the rest of the sweep goes on, this member is looked at next time.
            }
        }
    }

    private void Send(IReadOnlyList<TaskRecord> tasks)
    {
        foreach (var task in tasks)
        {
            _outbox.Writer.TryWrite(task);
        }
    }

    public async Task<IReadOnlyList<TaskRecord>> ListAsync(TeamBoard board, string? state, long? before, int limit, CancellationToken ct)
    {
        var found = new List<TaskRecord>();
        var next = Math.Min(before ?? long.MaxValue, board.TaskSequence + 1) - 1;
        // Newest first, a page at a time, until enough match (bounded, so a rare state cannot scan a huge team).
        for (var pages = 0; next >= 1 && found.Count < limit && pages < 20; pages++)
        {
            var ids = Enumerable.Range(0, (int)Math.Min(limit * 2, next)).Select(i => TaskId(board.Id, next - i)).ToList();
            next -= ids.Count;
            found.AddRange((await store.GetTasksAsync(ids, ct)).Where(t => state is null || t.State == state));
        }
        return found.Take(limit).ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} gave back {Count} open tasks: {Reason}")]
    private partial void LogReleased(string agentId, int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not be sent to agent {AgentId}; the sweep sends it again")]
    private partial void LogNotDelivered(string taskId, string agentId);
}
