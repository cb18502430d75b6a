namespace AgenticFlow.Memory.Graph;

/// <summary>Who asserted something and from where: an agent (and the memory that said it), or a principal, by hand or by extraction.</summary>
public sealed record Provenance(string? AgentId, string? Principal, string? MemoryId, DateTimeOffset At, string Source)
{
    public const string Asserted = "asserted", Extracted = "extracted";
}

public sealed record Entity
{
    public required string Key { get; init; }
    public required string Name { get; init; }
    public string? Type { get; init; }
    public Dictionary<string, string> Attributes { get; init; } = new(StringComparer.Ordinal);
    public List<Provenance> Provenance { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A fact between two entities, valid from <see cref="ValidFrom"/> until <see cref="ValidTo"/> (open while null).
/// A contradicting fact closes it (sets <see cref="ValidTo"/> and <see cref="ClosedBy"/>); it is never deleted for that.</summary>
public sealed record Relation
{
    public required string Id { get; init; }
    public required string Subject { get; init; }
    public required string Predicate { get; init; }
    public required string Object { get; init; }
    public required DateTimeOffset ValidFrom { get; init; }
    public DateTimeOffset? ValidTo { get; init; }
    public string? ClosedBy { get; init; }
    public bool SingleValued { get; init; }
    public List<Provenance> Provenance { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }

    public bool ValidAt(DateTimeOffset t) => ValidFrom <= t && (ValidTo is null || t < ValidTo);
}

public static class GraphNames
{
    /// <summary>The key an entity is found by: its name lower-cased with runs of spaces made one.</summary>
    public static string EntityKey(string name) => string.Join(' ', name.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Predicates in snake case: "Works At" and "works-at" are one predicate.</summary>
    public static string Predicate(string predicate) =>
        string.Join('_', predicate.Trim().ToLowerInvariant().Split([' ', '-', '_'], StringSplitOptions.RemoveEmptyEntries));
}
