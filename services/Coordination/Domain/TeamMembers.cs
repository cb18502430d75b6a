using AgenticFlow.Coordination.Agents;

namespace AgenticFlow.Coordination.Domain;

public static class TeamMembers
{
    /// <summary>A new member from the agent's registration: its capabilities, capacity and health as the agents service reports them.</summary>
    public static Member From(AgentInfo agent, DateTimeOffset now) => new()
    {
        AgentId = agent.Id,
        Kind = agent.Kind,
        MaxConcurrentTasks = agent.MaxConcurrentTasks,
        Capabilities = agent.Capabilities.GroupBy(c => c.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Max(c => c.Proficiency), StringComparer.Ordinal),
        Healthy = agent.Healthy,
        JoinedAt = now,
    };
}
