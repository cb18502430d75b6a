using System.Text.Json.Serialization;

namespace AgenticFlow.Memory.Domain;

public enum MemoryKind { Experience, Fact, Note }

public enum Outcome { Success, Failure }

public sealed record EntityRef(string Name, string? Type);

public sealed record RelationAssertion(string Subject, string Predicate, string Object, DateTimeOffset? ValidFrom, bool? SingleValued);

/// <summary>One stored memory: written once, never changed (experiences are append-only; no memory is edited).</summary>
public sealed record MemoryRecord
{
    public required string Id { get; init; }
    public required string AgentId { get; init; }
    public string? TeamId { get; init; }
    public required MemoryKind Kind { get; init; }
    public required string Content { get; init; }
    public string? Task { get; init; }
    public string? Action { get; init; }
    public Outcome? Outcome { get; init; }
    public double? Score { get; init; }
    public double Importance { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public IReadOnlyList<EntityRef> Entities { get; init; } = [];
    public IReadOnlyList<RelationAssertion> Relations { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The embedding stored with the record, so the index is rebuilt without embedding everything again.</summary>
    public string? Embedding { get; init; }
    public string? EmbeddingModel { get; init; }

    [JsonIgnore]
    public ulong VectorKey => VectorKeys.Of(Id);

    /// <summary>What is embedded and searched by keyword: the content with the task and action around it.</summary>
    public string SearchText => string.Join(". ", new[] { Task, Content, Action }.Where(s => !string.IsNullOrWhiteSpace(s)));

    public bool IsLive(DateTimeOffset now) => ExpiresAt is null || ExpiresAt > now;

    public MemoryRecord WithoutEmbedding() => this with { Embedding = null };
}

public static class VectorKeys
{
    /// <summary>The HNSW key of a memory: a hash of its id, so no mapping document has to be stored beside the index.</summary>
    public static ulong Of(string memoryId) => System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(memoryId));

    public static string Encode(ReadOnlySpan<float> vector) => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector));

    public static float[] Decode(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        var vector = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, vector, 0, vector.Length * sizeof(float));
        return vector;
    }
}

/// <summary>What narrows a listing or a query.</summary>
public sealed record MemoryFilter
{
    public IReadOnlySet<MemoryKind>? Kinds { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public Outcome? Outcome { get; init; }

    public bool Matches(MemoryRecord m) =>
        (Kinds is null || Kinds.Contains(m.Kind))
        && (From is null || m.CreatedAt >= From)
        && (To is null || m.CreatedAt < To)
        && (Outcome is null || m.Outcome == Outcome)
        && Tags.All(t => m.Tags.Contains(t, StringComparer.OrdinalIgnoreCase));
}

/// <summary>Whose memories a query searches.</summary>
public sealed record MemoryScope(string? AgentId, string? TeamId, bool All)
{
    public bool Contains(MemoryRecord m) => All || (AgentId is not null && m.AgentId == AgentId) || (TeamId is not null && m.TeamId == TeamId);
}
