using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;

namespace AgenticFlow.Workflows.Execution;

/// <summary>What a run starts with: the definition version itself travels in the input, so the run never reads a
/// newer version and replays see the same document.</summary>
/// <summary>A run to interpret; <c>Depth</c> counts the sub-workflow runs above it (0 for a run started on its own).</summary>
public sealed record RunStart(string RunId, string DefinitionId, int Version, WorkflowDefinition Definition, JsonNode? Input, string? ParentRunId,
    string Trigger = "manual", DateTimeOffset StartedAt = default, int Depth = 0);

public sealed record RunResult(string Status, JsonNode? Output, string? Error);

/// <summary>The run's progress, kept as the workflow's custom status (read by GET .../status while it runs).</summary>
public sealed record RunProgress(List<StepState> Steps, List<string> CompensationErrors);

public sealed record CancelSignal(string? Reason);

/// <summary>Which step attempt an activity serves (for idempotency keys and step events).</summary>
public sealed record StepRef(string RunId, string DefinitionId, string Path, string StepId, string Kind, int Attempt);

public sealed record LlmCall(StepRef Step, string Prompt, string? System, string? Model);

public sealed record InvokeCall(StepRef Step, string App, string Method, string Verb, JsonNode? Data);

public sealed record PublishCall(StepRef Step, string Pubsub, string Topic, JsonNode? Data);

public sealed record AgentTaskCall(StepRef Step, string Team, string Description, JsonNode? Input, List<string>? RequiredCapabilities, string? Priority, string? AffinityKey);

public sealed record AgentTaskState(string TaskId, string TeamId, string State, JsonNode? Output, string? Error, string? AgentId);

public sealed record SubRunCall(StepRef Step, string ChildRunId, string Workflow, int? Version, JsonNode? Input);

public sealed record StepEvent(StepRef Step, JsonNode? Output);

public sealed record FinishRun(RunStart Run, string Status, JsonNode? Output, string? Error, List<StepState> Steps, List<string> CompensationErrors);

public sealed record AgentTaskLookup(StepRef Step, SubmittedTask Task);
