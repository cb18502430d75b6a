namespace AgenticFlow.Memory.Domain;

/// <summary>Pub/sub topics and payloads the service publishes (one topic per event type).</summary>
public static class MemoryTopics
{
    public const string Stored = "memory.stored";
    public const string Forgotten = "memory.forgotten";
    public const string CacheInvalidated = "memory.cache-invalidated";
}

/// <summary><c>extract</c>: the memory's entities and relations are to be read from its text (extraction is on and the memory did not opt out).</summary>
public sealed record MemoryStored(string AgentId, string MemoryId, string Kind, IReadOnlyList<string> Tags, string? TeamId, DateTimeOffset CreatedAt, bool Extract = false);

/// <summary><c>reason</c>: <c>deleted</c> (one memory), <c>agent-forgotten</c> (everything of the agent) or <c>expired</c>.</summary>
public sealed record MemoryForgotten(string AgentId, IReadOnlyList<string> MemoryIds, string Reason, DateTimeOffset At);

/// <summary><c>reason</c>: <c>replaced</c>, <c>deleted</c> or <c>agent-forgotten</c>.</summary>
public sealed record CacheInvalidated(string Namespace, string Key, string Reason, DateTimeOffset At);
