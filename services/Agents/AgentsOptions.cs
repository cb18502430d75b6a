using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Agents;

public sealed class AgentsOptions
{
    public const string Section = "Agents";

    /// <summary>The Dapr state store holding the read model (actors keep their own state in the actor state store).</summary>
    [Required]
    public string StateStore { get; set; } = "statestore";

    [Required]
    public string PubSub { get; set; } = "pubsub";

    /// <summary>How often an external agent's actor checks its heartbeats.</summary>
    [Range(0.05, 3600)]
    public double HeartbeatCheckSeconds { get; set; } = 10;

    /// <summary>No heartbeat for this long marks an external agent unhealthy.</summary>
    [Range(0.1, 86400)]
    public double HeartbeatTimeoutSeconds { get; set; } = 30;

    /// <summary>How often unfinished work (an llm run, a result not yet handed to coordination) is retried.</summary>
    [Range(0.1, 3600)]
    public double WorkRetrySeconds { get; set; } = 15;

    /// <summary>How long one llm run may take before it is abandoned and retried.</summary>
    [Range(1, 3600)]
    public double LlmTimeoutSeconds { get; set; } = 120;

    /// <summary>Finished work items an actor keeps (with their conversations) for GET .../tasks/{taskId}.</summary>
    [Range(1, 10000)]
    public int FinishedWorkKept { get; set; } = 200;

    /// <summary>Shards of the capability/status read model: more shards, fewer write conflicts, more keys per list.</summary>
    [Range(1, 256)]
    public int DirectoryShards { get; set; } = 16;

    public string CoordinationAppId { get; set; } = "coordination";
    public string MessagingAppId { get; set; } = "messaging";
    public string ProvidersAppId { get; set; } = "providers";

    /// <summary>Dapr secret store holding the tokens llm agents present to their MCP servers (secrets named mcp-*).</summary>
    public string SecretStore { get; set; } = "secretstore";

    /// <summary>Lets llm agents' MCP servers and a2a agents' cards be on loopback, link-local or private addresses
    /// (a local tool server, tests). Off by default: user-named URLs reach public addresses only.</summary>
    public bool AllowPrivateEndpoints { get; set; }

    /// <summary>Actor idle timeout (minutes) before an agent's actor is deactivated; its state and reminders stay.</summary>
    [Range(1, 1440)]
    public int ActorIdleMinutes { get; set; } = 60;
}
