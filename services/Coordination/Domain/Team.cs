using System.Text.Json.Serialization;

namespace AgenticFlow.Coordination.Domain;

public static class TeamStatus
{
    public const string Forming = "forming", Active = "active", Failed = "failed", Disbanded = "disbanded";
}

/// <summary>What a team asks for when it is formed from requirements: <c>Count</c> agents holding the capability at
/// <c>MinProficiency</c> or better.</summary>
public sealed record Requirement(string Capability, int Count, double MinProficiency);

/// <summary>
/// A team and its task board in one document, so every change to the team's members, its open tasks and its
/// counters commits under one ETag: two replicas that race on a team cannot both win, and a task never sits on
/// two agents at once.
/// </summary>
public sealed class TeamBoard
{
    public required string Id { get; init; }
    public required string Name { get; set; }
    public required string Strategy { get; set; }
    public string Status { get; set; } = TeamStatus.Active;
    public List<Requirement> Requirements { get; set; } = [];
    public List<Member> Members { get; set; } = [];
    public List<PendingTask> Pending { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DisbandedAt { get; set; }
    public string? FailureReason { get; set; }

    /// <summary>Index into <see cref="Members"/> where round-robin looks first.</summary>
    public int RoundRobinNext { get; set; }

    /// <summary>Tasks submitted so far: the next task's number.</summary>
    public long TaskSequence { get; set; }

    public long Completed { get; set; }
    public long Failed { get; set; }

    /// <summary>Latency (submit to completion, ms) of the most recent completions, newest last.</summary>
    public List<double> RecentLatenciesMs { get; set; } = [];

    /// <summary>When the most recent completions happened, newest last (for throughput).</summary>
    public List<DateTimeOffset> RecentCompletions { get; set; } = [];

    public const int RecentWindow = 1024;

    public Member? Member(string agentId) => Members.Find(m => m.AgentId == agentId);

    public bool IsOpen => Status == TeamStatus.Active;

    public void RecordCompletion(DateTimeOffset createdAt, DateTimeOffset now)
    {
        Completed++;
        RecentLatenciesMs.Add(Math.Max(0, (now - createdAt).TotalMilliseconds));
        RecentCompletions.Add(now);
        if (RecentLatenciesMs.Count > RecentWindow)
        {
            RecentLatenciesMs.RemoveRange(0, RecentLatenciesMs.Count - RecentWindow);
        }
        if (RecentCompletions.Count > RecentWindow)
        {
            RecentCompletions.RemoveRange(0, RecentCompletions.Count - RecentWindow);
        }
    }
}

/// <summary>An agent of a team, with what the board needs to choose it: capabilities, capacity, health, open tasks.</summary>
public sealed class Member
{
    public required string AgentId { get; init; }
    public string Kind { get; set; } = "external";
    public int MaxConcurrentTasks { get; set; } = 1;
    public Dictionary<string, double> Capabilities { get; set; } = new(StringComparer.Ordinal);
    public bool Healthy { get; set; } = true;
    public List<OpenTask> Open { get; set; } = [];
    public DateTimeOffset JoinedAt { get; set; }

    [JsonIgnore]
    public int Load => Open.Count;

    [JsonIgnore]
    public bool HasCapacity => Open.Count < MaxConcurrentTasks;

    public bool Holds(IReadOnlyCollection<string> capabilities) => capabilities.All(Capabilities.ContainsKey);

    /// <summary>Mean proficiency over <paramref name="capabilities"/> (over all it holds when none are asked for).</summary>
    public double Proficiency(IReadOnlyCollection<string> capabilities) =>
        capabilities.Count == 0
            ? (Capabilities.Count == 0 ? 0 : Capabilities.Values.Max())
            : capabilities.Average(c => Capabilities.GetValueOrDefault(c));
}

/// <summary>A task an agent holds: assigned (sent or about to be sent) or running (the agent accepted it).</summary>
public sealed class OpenTask
{
    public required string TaskId { get; init; }
    public bool Running { get; set; }
    public bool Dispatched { get; set; }
    public DateTimeOffset AssignedAt { get; set; }
    public DateTimeOffset? DueAt { get; set; }
}

/// <summary>A task waiting for an agent, with what the strategies need to place it.</summary>
public sealed class PendingTask
{
    public required string TaskId { get; init; }
    public TaskPriority Priority { get; set; }
    public long Sequence { get; set; }
    public List<string> RequiredCapabilities { get; set; } = [];
    public string? AffinityKey { get; set; }
    /// <summary>Agents this task failed on or was taken from: tried last.</summary>
    public List<string> Avoid { get; set; } = [];
}
