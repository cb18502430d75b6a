using System.Text.Json;
using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;

namespace AgenticFlow.Memory.Apis;

public sealed record EntityDto(string? Name, string? Type);

public sealed record RelationDto(string? Subject, string? Predicate, string? Object, DateTimeOffset? ValidFrom, bool? SingleValued);

public sealed record StoreMemoryRequest(
    string? Kind, string? Content, string? Task, string? Action, string? Outcome, double? Score, double? Importance,
    List<string>? Tags, int? TtlSeconds, List<EntityDto>? Entities, List<RelationDto>? Relations, string? TeamId, bool? Extract);

public sealed record StoreMemoryResponse(string Id, string AgentId, string Kind, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

public sealed record MemoryView(
    string Id, string AgentId, string? TeamId, string Kind, string Content, string? Task, string? Action, string? Outcome, double? Score,
    double Importance, IReadOnlyList<string> Tags, IReadOnlyList<EntityRef> Entities, IReadOnlyList<RelationAssertion> Relations,
    DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt)
{
    public static MemoryView Of(MemoryRecord m) => new(m.Id, m.AgentId, m.TeamId, Names.Of(m.Kind), m.Content, m.Task, m.Action,
        m.Outcome is { } o ? Names.Of(o) : null, m.Score, m.Importance, m.Tags, m.Entities, m.Relations, m.CreatedAt, m.ExpiresAt);
}

public sealed record Page<T>(IReadOnlyList<T> Items, int Total, int Offset, int Limit);

public sealed record QueryFilters(List<string>? Kinds, string? Kind, List<string>? Tags, DateTimeOffset? From, DateTimeOffset? To, string? Outcome);

public sealed record QueryRequest(string? Text, string? AgentId, string? TeamId, string? Scope, int? TopK, string? Mode, QueryFilters? Filters, int? GraphDepth);

public sealed record QueryHit(MemoryView Memory, double Score, double? SemanticScore, double? KeywordScore);

public sealed record QueryResponse(string Mode, IReadOnlyList<QueryHit> Results, GraphResponse? Graph, double TookMs);

public sealed record EntityRequest(string? Name, string? Type, Dictionary<string, string>? Attributes, string? AgentId, string? MemoryId);

public sealed record RelationRequest(string? Subject, string? Predicate, string? Object, DateTimeOffset? ValidFrom, bool? SingleValued, string? AgentId, string? MemoryId);

public sealed record EntityView(string Key, string Name, string? Type, IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<Provenance> Provenance, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record RelationView(
    string Id, string Subject, string Predicate, string Object, DateTimeOffset ValidFrom, DateTimeOffset? ValidTo, string? ClosedBy,
    bool SingleValued, IReadOnlyList<Provenance> Provenance, DateTimeOffset CreatedAt);

public sealed record GraphResponse(IReadOnlyList<EntityView> Nodes, IReadOnlyList<RelationView> Edges, DateTimeOffset? AsOf, bool Truncated);

public sealed record RelationAdded(RelationView Relation, bool Created, IReadOnlyList<RelationView> Closed);

public sealed record CachePutRequest(JsonElement? Value, int? TtlSeconds);

public sealed record CacheView(string Namespace, string Key, JsonElement Value, DateTimeOffset StoredAt, DateTimeOffset? ExpiresAt);

public sealed record ForgetResponse(string AgentId, int MemoriesForgotten);

public sealed record IndexStats(
    bool Ready, int Memories, int Vectors, int SavedVectors, string Source, int LoadedFromFile, int KeywordDocuments,
    int Entities, int Relations, string EmbeddingModel);

public static class Names
{
    public static string Of(MemoryKind kind) => kind.ToString().ToLowerInvariant();
    public static string Of(Outcome outcome) => outcome.ToString().ToLowerInvariant();
}
