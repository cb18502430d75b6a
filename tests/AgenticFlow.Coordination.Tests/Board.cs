using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

/// <summary>A team's board with its tasks in memory: the scheduler's rules without a state store.</summary>
public sealed class Board
{
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    public TeamBoard Team { get; }
    public TeamScheduler Scheduler { get; }
    public Dictionary<string, TaskRecord> Tasks { get; } = new(StringComparer.Ordinal);
    public DateTimeOffset Now { get; set; } = Start;

    public Board(string strategy, IEnumerable<Member> members)
    {
        Team = new TeamBoard { Id = "team", Name = "team", Strategy = strategy, Members = members.ToList(), CreatedAt = Start };
        Scheduler = new TeamScheduler(Strategies.For(strategy));
    }

    public static Member Agent(string id, int max = 1000, params (string Name, double Proficiency)[] capabilities) => new()
    {
        AgentId = id,
        MaxConcurrentTasks = max,
        Capabilities = capabilities.ToDictionary(c => c.Name, c => c.Proficiency, StringComparer.Ordinal),
    };

    public static IEnumerable<Member> Agents(int count, int max = 1000) => Enumerable.Range(1, count).Select(i => Agent($"agent-{i:D2}", max));

    public TaskLedger Ledger() => new((id, _) => new ValueTask<TaskRecord?>(Tasks.GetValueOrDefault(id)));

    /// <summary>Submits a task; returns it (assigned, or pending when nobody could take it) and what the change sent.</summary>
    public async Task<(TaskRecord Task, List<TaskRecord> Sent)> SubmitAsync(string? affinityKey = null, string[]? capabilities = null, TaskPriority priority = TaskPriority.Normal, TimeSpan? attemptTime = null, int maxAttempts = 3)
    {
        var sequence = ++Team.TaskSequence;
        var task = new TaskRecord
        {
            Id = $"team-{sequence}",
            TeamId = Team.Id,
            Sequence = sequence,
            Description = "work",
            AffinityKey = affinityKey,
            RequiredCapabilities = [.. capabilities ?? []],
            Priority = priority,
            AttemptTime = attemptTime,
            MaxAttempts = maxAttempts,
            CreatedAt = Now,
        };
        var ledger = Ledger();
        await Scheduler.SubmitAsync(Team, ledger, task, Now, CancellationToken.None);
        Keep(ledger);
        return (task, ledger.ToDispatch);
    }

    public async Task<ResultOutcome?> CompleteAsync(string taskId, string agentId, bool completed = true, int? attempt = null)
    {
        var ledger = Ledger();
        var outcome = await Scheduler.ReportAsync(Team, ledger, taskId, agentId, completed, null, completed ? null : "broke", attempt, Now, CancellationToken.None);
        Keep(ledger);
        return outcome;
    }

    public async Task<List<TaskRecord>> ReleaseAgentAsync(string agentId, bool remove)
    {
        var ledger = Ledger();
        await Scheduler.ReleaseAgentAsync(Team, ledger, agentId, remove ? "left" : "unhealthy", remove, Now, CancellationToken.None);
        Keep(ledger);
        return ledger.ToDispatch;
    }

    public async Task<List<TaskRecord>> ExpireAsync()
    {
        var ledger = Ledger();
        await Scheduler.ExpireAsync(Team, ledger, Now, CancellationToken.None);
        Keep(ledger);
        return ledger.ToDispatch;
    }

    public int Load(string agentId) => Team.Member(agentId)!.Load;

    private void Keep(TaskLedger ledger)
    {
        foreach (var task in ledger.Changed)
        {
            Tasks[task.Id] = task;
        }
    }
}
