namespace AgenticFlow.Coordination.Domain;

/// <summary>Pub/sub topics coordination publishes and the agents' topics it listens to (named exactly as the agents service publishes them).</summary>
public static class CoordinationEvents
{
    public const string TeamFormed = "coordination.team-formed";
    public const string TeamFormationFailed = "coordination.team-formation-failed";
    public const string TeamDisbanded = "coordination.team-disbanded";
    public const string TaskCompleted = "coordination.task-completed";
    public const string TaskFailed = "coordination.task-failed";
    public const string ConsensusDecided = "coordination.consensus-decided";

    public const string AgentUnhealthy = "agents.unhealthy";
    public const string AgentHealthy = "agents.healthy";
    public const string AgentDeregistered = "agents.deregistered";
}
