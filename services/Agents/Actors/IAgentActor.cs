using AgenticFlow.Agents.Domain;
using Dapr.Actors;

namespace AgenticFlow.Agents.Actors;

/// <summary>How a call on an agent ended; the API turns it into a status code.</summary>
public static class Outcomes
{
    public const string Ok = "ok", Created = "created", NotFound = "not-found", Exists = "exists", Stale = "stale", Draining = "draining",
        Duplicate = "duplicate", Mismatch = "mismatch";
}

public sealed record AgentReply(string Outcome, AgentRecord? Agent = null, string? Detail = null);

public sealed record WorkReply(string Outcome, WorkItem? Work = null, string? Detail = null);

/// <summary>Approve or reject a tool call waiting in a paused run: <see cref="ApprovalId"/> null decides every one still open.</summary>
public sealed record ApprovalDecision(string? ApprovalId, bool Approved, string? Reason, string DecidedBy);

/// <summary>A state update: what to change, and the ETag it was based on when the caller sent one.</summary>
public sealed record StateChange(string? Status, double? Load, IReadOnlyDictionary<string, System.Text.Json.JsonElement?>? Custom, string? IfMatch);

/// <summary>One actor per agent: the agent's record, its heartbeats, and the work given to it.</summary>
public interface IAgentActor : IActor
{
    Task<AgentReply> Register(AgentRecord agent);
    Task<AgentReply> Get();
    Task<AgentReply> UpdateState(StateChange change);
    Task<AgentReply> Heartbeat();

    /// <summary>Marks the agent draining (no new work); <see cref="AbortDrain"/> puts back the status it had.</summary>
    Task<AgentReply> BeginDrain();
    Task<AgentReply> AbortDrain();

    /// <summary>Forgets the agent: state, reminders, and its entry in the read model.</summary>
    Task<AgentReply> Remove();

    Task<WorkReply> Assign(WorkItem work);
    Task<WorkReply> GetWork(string workId);
    Task<WorkReply> RecordResult(string workId, WorkResult result);
    Task<WorkReply> FinishRun(string workId, RunOutcome outcome);
    Task<WorkReply> MarkDelivered(string workId);
    /// <summary>Records how handing the result of <paramref name="taskAttempt"/> went; ignored when the work was
    /// replaced by a later attempt meanwhile.</summary>
    Task<WorkReply> MarkReported(string workId, int taskAttempt, string report);
    /// <summary>A person's decision on a paused run's tool call (or on all of them when no id is given).</summary>
    Task<WorkReply> Decide(string workId, ApprovalDecision decision);

    /// <summary>Stores an MCP tool call (and its result, by call id) as it is made, before the run goes on.</summary>
    Task<WorkReply> RecordToolCall(string workId, ToolCallRecord call, System.Text.Json.JsonElement? result);
}
