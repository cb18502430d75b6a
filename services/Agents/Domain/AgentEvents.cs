namespace AgenticFlow.Agents.Domain;

/// <summary>Pub/sub topics the service publishes; coordination subscribes to some of them.</summary>
public static class AgentTopics
{
    public const string Registered = "agents.registered";
    public const string StateChanged = "agents.state-changed";
    public const string Unhealthy = "agents.unhealthy";
    public const string Healthy = "agents.healthy";
    public const string Deregistered = "agents.deregistered";
}

/// <summary>What an actor tells the world after a change: published on pub/sub, and applied to the read model.
/// It carries the agent's whole summary (not a delta), so applying the latest one is enough to catch up.</summary>
public sealed record AgentEvent(string AgentId, string Kind, string Status, string Health, IReadOnlyList<Capability> Capabilities,
    int MaxConcurrentTasks, DateTimeOffset At, string Name, double Load, int ActiveTasks, IReadOnlyDictionary<string, string> Labels, long Version)
{
    public static AgentEvent Of(AgentRecord a, DateTimeOffset at) =>
        new(a.Id, a.Kind, a.Status, a.Health, a.Capabilities, a.MaxConcurrentTasks, at, a.Name, a.Load, a.ActiveTasks, a.Labels, a.Version);
}
