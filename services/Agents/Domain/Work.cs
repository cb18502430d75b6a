using System.Text.Json;

namespace AgenticFlow.Agents.Domain;

public static class WorkKinds
{
    public const string Task = "task", Vote = "vote";
}

/// <summary>Where a piece of work stands. <c>delivered</c>: in an external agent's queue; <c>running</c>: an llm run
/// is under way; the two final ones keep their result until coordination has it.</summary>
public static class WorkStatuses
{
    public const string Accepted = "accepted", Delivered = "delivered", Running = "running", Completed = "completed", Failed = "failed";

    /// <summary>An llm run paused on tool calls that need a person's approval; it goes on once each is decided.</summary>
    public const string AwaitingApproval = "awaiting-approval";

    public static bool IsFinal(string status) => status is Completed or Failed;
}

/// <summary>Whether coordination has the result: <c>pending</c> is retried by the work's reminder.</summary>
public static class ReportStatuses
{
    public const string None = "none", Pending = "pending", Done = "done", Rejected = "rejected", Abandoned = "abandoned";
}

public sealed record ConversationMessage(string Role, string Text, DateTimeOffset At);

/// <summary>A task or a vote request given to an agent, with the conversation of its llm run and its result.</summary>
public sealed record WorkItem
{
    /// <summary>The task id, or <c>vote:{roundId}</c>.</summary>
    public required string Id { get; init; }
    public required string Kind { get; init; }
    public string? TeamId { get; init; }
    public string? Description { get; init; }
    public JsonElement? Input { get; init; }
    public IReadOnlyList<string> RequiredCapabilities { get; init; } = [];
    public DateTimeOffset? Deadline { get; init; }
    public string? RoundId { get; init; }
    public string? Proposal { get; init; }
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>Coordination's attempt number of this assignment of the task (0 when it gave none): part of the queue
    /// message's idempotency key and of the result, so a late report of an earlier attempt cannot settle a later one.</summary>
    public int TaskAttempt { get; init; }
    public string Status { get; init; } = WorkStatuses.Accepted;
    /// <summary>llm runs tried for this work.</summary>
    public int Attempts { get; init; }
    /// <summary>The Agent Framework session of the llm run, serialized: a run after a restart continues it.</summary>
    public JsonElement? Session { get; init; }
    public IReadOnlyList<ConversationMessage> Conversation { get; init; } = [];
    public JsonElement? Output { get; init; }
    public string? Error { get; init; }
    public string? Choice { get; init; }
    public string? Reason { get; init; }
    public string Report { get; init; } = ReportStatuses.None;
    public int ReportAttempts { get; init; }
    public DateTimeOffset AcceptedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Every MCP tool call the runs made, in order.</summary>
    public IReadOnlyList<ToolCallRecord> ToolCalls { get; init; } = [];
    /// <summary>The tool calls of the paused run, each waiting for (or holding) a decision.</summary>
    public IReadOnlyList<PendingApproval> Approvals { get; init; } = [];
    /// <summary>The result of each MCP tool call made, by the model's call id, stored before the run went on: a run
    /// that replays a call (resuming after approval once more, after a failure) gets this result and the tool is not
    /// called twice.</summary>
    public IReadOnlyDictionary<string, JsonElement> ToolResults { get; init; } = new Dictionary<string, JsonElement>();
}

/// <summary>What an external agent reports for a task.</summary>
public sealed record WorkResult(string Status, JsonElement? Output, string? Error);

/// <summary>What an llm run produced: the session to keep and, when it finished, the answer.</summary>
public sealed record RunOutcome(bool Finished, bool Failed, JsonElement? Session, IReadOnlyList<ConversationMessage> Conversation,
    JsonElement? Output, string? Error, string? Choice, string? Reason,
    IReadOnlyList<ToolCallRecord>? ToolCalls = null, IReadOnlyList<PendingApproval>? Approvals = null)
{
    /// <summary>The run stopped on tool calls that need approval: neither finished nor failed.</summary>
    public bool Paused => Approvals is { Count: > 0 };
}
