using System.Text.Json;

namespace AgenticFlow.Agents.Domain;

public static class AgentKinds
{
    public const string Llm = "llm", External = "external";

    /// <summary>A remote agent spoken to with the Agent2Agent protocol, found by its agent card.</summary>
    public const string A2a = "a2a";

    /// <summary>Kinds whose work this service runs itself (an llm run, or a call to the remote agent), driven by the work's reminder.</summary>
    public static bool RunsHere(string kind) => kind is Llm or A2a;
}

/// <summary>Where a remote A2A agent publishes its agent card; the card names its JSON-RPC endpoint.</summary>
public sealed record A2aSettings(string CardUrl);

/// <summary>What an agent says it is doing. <c>draining</c> is set by the service alone, while a DELETE hands its
/// open tasks back to coordination.</summary>
public static class AgentStatuses
{
    public const string Idle = "idle", Busy = "busy", Offline = "offline", Draining = "draining";
    public static readonly string[] Settable = [Idle, Busy, Offline];
}

public static class AgentHealth
{
    public const string Healthy = "healthy", Unhealthy = "unhealthy";
}

public sealed record Capability(string Name, string? Version, double Proficiency);

public sealed record ToolSpec(string Name, string? Description, JsonElement? Parameters);

public sealed record LlmSettings(string? Model, string? ModelClass, string SystemPrompt, IReadOnlyList<ToolSpec> Tools)
{
    /// <summary>MCP servers whose tools the agent's runs may call.</summary>
    public IReadOnlyList<McpServerSpec> McpServers { get; init; } = [];
}

/// <summary>An agent as its actor stores it. <see cref="Version"/> is the ETag: it moves on every change a client
/// could act on (registration, state, health, draining), not on a heartbeat that changes nothing else.</summary>
public sealed record AgentRecord
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public required IReadOnlyList<Capability> Capabilities { get; init; }
    public required int MaxConcurrentTasks { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public LlmSettings? Llm { get; init; }
    public A2aSettings? A2a { get; init; }
    public string Status { get; init; } = AgentStatuses.Idle;
    public string Health { get; init; } = AgentHealth.Healthy;
    public double Load { get; init; }
    public int ActiveTasks { get; init; }
    public IReadOnlyDictionary<string, JsonElement> Custom { get; init; } = new Dictionary<string, JsonElement>();
    public DateTimeOffset RegisteredAt { get; init; }
    public DateTimeOffset LastHeartbeat { get; init; }
    public long Version { get; init; } = 1;
    /// <summary>While draining: the status to go back to should the drain fail.</summary>
    public string? StatusBeforeDrain { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public string ETag => $"\"{Version}\"";

    /// <summary>May take new work: healthy, not offline or draining, and below its concurrency.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Available => Health == AgentHealth.Healthy && Status is AgentStatuses.Idle or AgentStatuses.Busy && ActiveTasks < MaxConcurrentTasks;
}

public static class AgentLimits
{
    public const int MaxCustomFields = 32;
}
