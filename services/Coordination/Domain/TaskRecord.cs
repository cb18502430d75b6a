using System.Text.Json;

namespace AgenticFlow.Coordination.Domain;

public enum TaskPriority { Low = 0, Normal = 1, High = 2, Critical = 3 }

public static class TaskState
{
    public const string Pending = "pending", Assigned = "assigned", Running = "running", Completed = "completed", Failed = "failed";
}

/// <summary>How a result reported for a task was taken.</summary>
public enum ResultOutcome
{
    /// <summary>The task completed (or failed for good) with this result.</summary>
    Applied,
    /// <summary>The agent reported a failure; the task went back to pending for another attempt.</summary>
    Retrying,
    /// <summary>The task had already finished with this agent's result: nothing changed.</summary>
    Duplicate,
    /// <summary>The task is not this agent's (it was reassigned, or never was).</summary>
    NotAssignee,
}

public sealed record TaskTransition(DateTimeOffset At, string State, string? AgentId, string? Note);

/// <summary>
/// One task and its life: pending → assigned → running → completed | failed. Every assignment is an attempt; an
/// agent's failure, its leaving, or a missed deadline sends the task back to pending until the attempts run out.
/// A task completes once: a second result from the same agent changes nothing, one from another agent is refused.
/// </summary>
public sealed class TaskRecord
{
    public required string Id { get; init; }
    public required string TeamId { get; init; }
    /// <summary>The task's number within its team, in submission order.</summary>
    public long Sequence { get; init; }
    public string Description { get; set; } = "";
    public JsonElement? Input { get; set; }
    public List<string> RequiredCapabilities { get; set; } = [];
    public TaskPriority Priority { get; set; } = TaskPriority.Normal;
    public string? AffinityKey { get; set; }
    public DateTimeOffset? Deadline { get; set; }
    /// <summary>How long each attempt may take: the time from submission to the deadline, given again to each agent.</summary>
    public TimeSpan? AttemptTime { get; set; }
    public int MaxAttempts { get; set; } = 3;

    public string State { get; set; } = TaskState.Pending;
    public string? AgentId { get; set; }
    public int Attempts { get; set; }
    public List<string> TriedAgents { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? AssignedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public JsonElement? Output { get; set; }
    public string? Error { get; set; }
    public List<TaskTransition> History { get; set; } = [];

    public bool IsFinished => State is TaskState.Completed or TaskState.Failed;
    public bool IsOpen => State is TaskState.Assigned or TaskState.Running;

    public DateTimeOffset? DueAt => AttemptTime is { } time && AssignedAt is { } at ? at + time : null;

    public void Assign(string agentId, DateTimeOffset now)
    {
        Require(State == TaskState.Pending, "assign");
        State = TaskState.Assigned;
        AgentId = agentId;
        Attempts++;
        AssignedAt = now;
        StartedAt = null;
        if (!TriedAgents.Contains(agentId))
        {
            TriedAgents.Add(agentId);
        }
        Note(now, null);
    }

    /// <summary>The agent accepted the task. False when it is no longer this agent's assigned task.</summary>
    public bool MarkRunning(string agentId, DateTimeOffset now)
    {
        if (State != TaskState.Assigned || AgentId != agentId)
        {
            return false;
        }
        State = TaskState.Running;
        StartedAt = now;
        Note(now, null);
        return true;
    }

    public ResultOutcome Complete(string agentId, JsonElement? output, DateTimeOffset now, int? attempt = null)
    {
        if (Settled(agentId, attempt) is { } settled)
        {
            return settled;
        }
        State = TaskState.Completed;
        Output = output;
        Error = null;
        FinishedAt = now;
        Note(now, null);
        return ResultOutcome.Applied;
    }

    /// <summary>The agent could not do it: another attempt when any are left (pending again), failed otherwise.</summary>
    public ResultOutcome Fail(string agentId, string? error, DateTimeOffset now, int? attempt = null)
    {
        if (Settled(agentId, attempt) is { } settled)
        {
            return settled;
        }
        Error = error;
        return Release($"agent failed: {error}", now) ? ResultOutcome.Retrying : ResultOutcome.Applied;
    }

    /// <summary>Takes the task from its agent (it failed, left, or missed the deadline): back to pending when attempts
    /// are left, true; failed otherwise, false.</summary>
    public bool Release(string reason, DateTimeOffset now)
    {
        Require(IsOpen, "release");
        if (Attempts >= MaxAttempts)
        {
            State = TaskState.Failed;
            FinishedAt = now;
            Error = $"{reason} (after {Attempts} attempts)";
            Note(now, reason);
            return false;
        }
        State = TaskState.Pending;
        AssignedAt = null;
        StartedAt = null;
        Note(now, reason);
        AgentId = null;
        return true;
    }

    /// <summary>Ends a task that can no longer run (its team was disbanded).</summary>
    public void Cancel(string reason, DateTimeOffset now)
    {
        if (IsFinished)
        {
            return;
        }
        State = TaskState.Failed;
        Error = reason;
        FinishedAt = now;
        Note(now, reason);
    }

    /// <summary>Null when this agent's result may settle the task now. A result naming an earlier attempt is stale: from
    /// the agent that holds the task again (a late or repeated report of its own earlier failure) it changes nothing;
    /// from anyone else, the task is not theirs.</summary>
    private ResultOutcome? Settled(string agentId, int? attempt)
    {
        if (attempt is { } given && given != Attempts)
        {
            return given < Attempts && AgentId == agentId ? ResultOutcome.Duplicate : ResultOutcome.NotAssignee;
        }
        if (IsFinished)
        {
            return AgentId == agentId ? ResultOutcome.Duplicate : ResultOutcome.NotAssignee;
        }
        return IsOpen && AgentId == agentId ? null : ResultOutcome.NotAssignee;
    }

    private void Note(DateTimeOffset now, string? note) => History.Add(new TaskTransition(now, State, AgentId, note));

    private void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"task {Id} cannot {what} while {State}");
        }
    }
}
