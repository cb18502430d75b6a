using System.Text.Json;

namespace AgenticFlow.Agents.Domain;

/// <summary>An MCP server an llm agent uses: its streamable HTTP endpoint, the secret holding the agent's token for it
/// (read from the secret store when a run starts, never stored with the agent), and the tools whose calls wait for a
/// person's approval (<c>*</c> for all of them).</summary>
public sealed record McpServerSpec(string Name, string Url, string? TokenSecret, IReadOnlyList<string> RequiresApproval)
{
    public bool NeedsApproval(string tool) => RequiresApproval.Contains("*") || RequiresApproval.Contains(tool);
}

public static class ToolCallStatuses
{
    public const string Ok = "ok", Error = "error", Rejected = "rejected";
}

/// <summary>One tool call an agent's run made (or was refused), as the task records it.</summary>
public sealed record ToolCallRecord(string Server, string Tool, JsonElement? Arguments, string Status, string ResultSummary, double LatencyMs, DateTimeOffset At,
    string? CallId = null);

/// <summary>A tool call waiting for a person: approved, it runs; rejected, the model is told so. <see cref="Id"/> is the
/// Agent Framework's approval request id; <see cref="CallId"/> the model's call id.</summary>
public sealed record PendingApproval(string Id, string Server, string Tool, string CallId, JsonElement? Arguments, DateTimeOffset RequestedAt,
    bool? Approved = null, string? Reason = null, string? DecidedBy = null);
