using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.Workflows.Storage;

/// <summary>A definition's id, name and versions (each version's document is stored on its own, immutable).</summary>
public sealed class DefinitionRecord
{
    public string Type { get; set; } = RecordTypes.Definition;
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public int LatestVersion { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<VersionInfo> Versions { get; set; } = [];
}

public sealed class VersionInfo
{
    public int Version { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public bool TriggersEnabled { get; set; }
}

public sealed class DefinitionVersion
{
    public string Id { get; set; } = "";
    public int Version { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public JsonElement Definition { get; set; }
}

public static class RecordTypes
{
    public const string Definition = "workflow-definition";
    public const string Run = "workflow-run";
}

public static class RunStatus
{
    public const string Running = "running", Suspended = "suspended", Completed = "completed", Failed = "failed", Cancelled = "cancelled";

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>A run as listed: written when it starts and when it ends (with every step's final state).</summary>
public sealed class RunRecord
{
    public string Type { get; set; } = RecordTypes.Run;
    public string RunId { get; set; } = "";
    public string DefinitionId { get; set; } = "";
    public int Version { get; set; }
    public string Status { get; set; } = RunStatus.Running;
    public JsonNode? Input { get; set; }
    public JsonNode? Output { get; set; }
    public string? Error { get; set; }
    public string Trigger { get; set; } = "manual";
    public string? ParentRunId { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public List<StepState>? Steps { get; set; }
}

/// <summary>One step's state in a run (a step in a parallel forEach block appears once per item, by path).</summary>
public sealed class StepState
{
    public string Path { get; set; } = "";
    public string Id { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Status { get; set; } = StepStatus.Pending;
    public int Attempts { get; set; }
    public JsonNode? Output { get; set; }
    public string? Error { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public string? TaskId { get; set; }
    public string? TeamId { get; set; }
}

public static class StepStatus
{
    public const string Pending = "pending", Running = "running", Waiting = "waiting", Completed = "completed", Failed = "failed", Skipped = "skipped",
        Cancelled = "cancelled", Compensated = "compensated";
}

/// <summary>Enabled event and schedule triggers of every definition version, for the subscriber and the scheduler.</summary>
public sealed class TriggerIndex
{
    public List<TriggerEntry> Entries { get; set; } = [];
}

public sealed record TriggerEntry(string DefinitionId, int Version, int Index, string Kind, string? Topic, string? Pubsub, string? Cron);
