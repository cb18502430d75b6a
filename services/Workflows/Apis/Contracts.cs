using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Storage;

namespace AgenticFlow.Workflows.Apis;

public sealed record DefinitionCreated(string Id, string Name, int Version, IReadOnlyList<string> Warnings);

public sealed record DefinitionSummary(string Id, string Name, string? Description, int LatestVersion, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record DefinitionPage(IReadOnlyList<DefinitionSummary> Items, string? NextCursor);

public sealed record DefinitionView(string Id, string Name, string? Description, int LatestVersion, int Version, JsonElement Definition,
    IReadOnlyList<VersionInfo> Versions, IReadOnlyList<RunSummary> RecentRuns, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record RunSummary(string RunId, string WorkflowId, int Version, string Status, string Trigger, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Error)
{
    public static RunSummary Of(RunRecord r) => new(r.RunId, r.DefinitionId, r.Version, r.Status, r.Trigger, r.StartedAt, r.FinishedAt, r.Error);
}

public sealed record RunPage(IReadOnlyList<RunSummary> Items, string? NextCursor);

public sealed record ExecuteRequest(JsonNode? Input, int? Version);

public sealed record RunAccepted(string RunId, string WorkflowId, int Version, string Status);

public sealed record RunView(string RunId, string WorkflowId, int Version, string Status, string Trigger, string? ParentRunId, JsonNode? Input, JsonNode? Output,
    string? Error, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, IReadOnlyList<StepState> Steps, IReadOnlyList<string> CompensationErrors);

public sealed record CancelRequest(string? Reason);

public sealed record TriggersRequest(bool? Enabled);
