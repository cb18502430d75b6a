using System.Text.Json;
using AgenticFlow.Agents.Domain;

namespace AgenticFlow.Agents.Apis;

public sealed record CapabilityDto(string? Name, string? Version, double? Proficiency);

public sealed record ToolDto(string? Name, string? Description, JsonElement? Parameters);

public sealed record McpServerDto(string? Name, string? Url, string? TokenSecret, List<string?>? RequiresApproval);

public sealed record LlmDto(string? Model, string? ModelClass, string? SystemPrompt, List<ToolDto?>? Tools, List<McpServerDto?>? McpServers = null);

public sealed record ApprovalRequest(string? ApprovalId, bool? Approved, string? Reason);

public sealed record A2aDto(string? CardUrl);

public sealed record RegisterAgentRequest(string? Id, string? Name, string? Kind, List<CapabilityDto?>? Capabilities, int? MaxConcurrentTasks,
    Dictionary<string, string?>? Labels, LlmDto? Llm, A2aDto? A2a = null);

public sealed record UpdateStateRequest(string? Status, double? Load, Dictionary<string, JsonElement?>? Custom);

public sealed record TaskResultRequest(string? Status, JsonElement? Output, string? Error);

/// <summary><c>attempt</c>: coordination's attempt number for this assignment (1, 2, …); a higher one than the agent holds is new work.</summary>
public sealed record AssignTaskRequest(string? TaskId, string? TeamId, string? Description, JsonElement? Input, List<string?>? RequiredCapabilities, DateTimeOffset? Deadline, int? Attempt = null);

public sealed record VoteRequest(string? RoundId, string? TeamId, string? Proposal, List<string?>? Options, DateTimeOffset? Deadline);

/// <summary>An agent as GET answers it (and as coordination reads it). <c>llm</c> (system prompt, model, tools) is shown
/// only to the agent itself, admins, operators and services: to other readers it is null.</summary>
public sealed record AgentView(string Id, string Name, string Kind, IReadOnlyList<Capability> Capabilities, int MaxConcurrentTasks,
    IReadOnlyDictionary<string, string> Labels, string Status, string Health, double Load, int ActiveTasks, bool Available,
    IReadOnlyDictionary<string, JsonElement> Custom, LlmSettings? Llm, DateTimeOffset RegisteredAt, DateTimeOffset LastHeartbeat, string Etag, A2aSettings? A2a)
{
    public static AgentView Of(AgentRecord a, bool showLlm = true) => new(a.Id, a.Name, a.Kind, a.Capabilities, a.MaxConcurrentTasks, a.Labels, a.Status, a.Health,
        a.Load, a.ActiveTasks, a.Available, a.Custom, showLlm ? a.Llm : null, a.RegisteredAt, a.LastHeartbeat, a.ETag, a.A2a);
}

public sealed record AgentListItem(string Id, string Name, string Kind, string Status, string Health, double Load, int ActiveTasks, int MaxConcurrentTasks,
    bool Available, IReadOnlyList<Capability> Capabilities, IReadOnlyDictionary<string, string> Labels);

public sealed record AgentPage(IReadOnlyList<AgentListItem> Items, string? NextCursor);

public sealed record CapabilityHolder(string AgentId, string? Version, double Proficiency, string Status, string Health, double Load, bool Available);

public sealed record CapabilityView(string Name, int Agents, int Available, IReadOnlyList<CapabilityHolder> Holders);

/// <summary>A task or vote an agent was given, with its conversation (llm agents) and result.</summary>
public sealed record WorkView(string Id, string AgentId, string Kind, string Status, string? TeamId, string? Description, JsonElement? Input,
    IReadOnlyList<string> RequiredCapabilities, DateTimeOffset? Deadline, string? RoundId, string? Proposal, IReadOnlyList<string> Options,
    int Attempts, IReadOnlyList<ConversationMessage> Conversation, JsonElement? Output, string? Error, string? Choice, string? Reason,
    string Report, DateTimeOffset AcceptedAt, DateTimeOffset? FinishedAt, IReadOnlyList<ToolCallRecord> ToolCalls, IReadOnlyList<PendingApproval> Approvals)
{
    public static WorkView Of(string agentId, WorkItem w) => new(w.Id, agentId, w.Kind, w.Status, w.TeamId, w.Description, w.Input, w.RequiredCapabilities,
        w.Deadline, w.RoundId, w.Proposal, w.Options, w.Attempts, w.Conversation, w.Output, w.Error, w.Choice, w.Reason, w.Report, w.AcceptedAt, w.FinishedAt,
        w.ToolCalls, w.Approvals);
}

public sealed record ResultAnswer(string TaskId, string AgentId, string Status, string Forwarded);
