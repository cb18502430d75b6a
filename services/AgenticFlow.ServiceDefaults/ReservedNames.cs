namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Names no agent may take: the platform's app ids (messages from a service carry its app id as their sender, so an
/// agent named like one could pass for it) and the fixed words of routes that take an agent id in the same place
/// (<c>/api/v1/memory/{agentId}</c> beside <c>/memory/query</c>, <c>/memory/cache</c>, <c>/memory/index</c>,
/// <c>/memory/knowledge-graph</c>, and the cache's <c>shared</c> namespace).
/// </summary>
public static class ReservedNames
{
    public static readonly IReadOnlySet<string> AgentIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "gateway", "agents", "coordination", "workflows", "messaging", "neural", "memory", "providers", "monitoring",
        "query", "cache", "index", "knowledge-graph", "shared",
    };

    public static bool IsReservedAgentId(string id) => AgentIds.Contains(id);
}
