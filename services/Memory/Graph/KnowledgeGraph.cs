namespace AgenticFlow.Memory.Graph;

/// <summary>What one change to the graph touched, so exactly that is written to the store.</summary>
public sealed class GraphChange
{
    public Dictionary<string, Entity> Entities { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Relation> Relations { get; } = new(StringComparer.Ordinal);
    public HashSet<string> DeletedEntities { get; } = new(StringComparer.Ordinal);
    public HashSet<string> DeletedRelations { get; } = new(StringComparer.Ordinal);
}

/// <summary>Part of the graph; <c>Truncated</c> when a walk stopped at its node limit before its depth.</summary>
public sealed record GraphView(IReadOnlyList<Entity> Nodes, IReadOnlyList<Relation> Edges, bool Truncated = false);

/// <summary>
/// The temporal knowledge graph in memory: entities by key, relations by id, and each entity's relations. Plain
/// logic with no I/O; <see cref="GraphStore"/> writes what each change returns. Not thread-safe: the store
/// serialises changes and takes a read lock for queries.
/// </summary>
public sealed class KnowledgeGraph(IReadOnlySet<string> singleValuedPredicates)
{
    private readonly Dictionary<string, Entity> _entities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Relation> _relations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _adjacent = new(StringComparer.Ordinal);

    public int EntityCount => _entities.Count;
    public int RelationCount => _relations.Count;
    public Entity? Entity(string key) => _entities.GetValueOrDefault(key);
    public Relation? Relation(string id) => _relations.GetValueOrDefault(id);
    public IEnumerable<Relation> Relations => _relations.Values;
    public IEnumerable<Entity> Entities => _entities.Values;

    public void Load(IEnumerable<Entity> entities, IEnumerable<Relation> relations)
    {
        foreach (var e in entities)
        {
            _entities[e.Key] = e;
        }
        foreach (var r in relations)
        {
            Put(r);
        }
    }

    /// <summary>Adds the entity or merges into the one with the same key: the type when given, attributes (new values win), provenance.</summary>
    /// <remarks>With <paramref name="keepOthers"/> (an agent asserting for itself), an entity others asserted keeps its
    /// type and attribute values: the agent adds attributes, it does not overwrite another agent's.</remarks>
    public Entity MergeEntity(string name, string? type, IReadOnlyDictionary<string, string>? attributes, Provenance provenance, GraphChange change, bool keepOthers = false)
    {
        var key = GraphNames.EntityKey(name);
        var shared = keepOthers && _entities.TryGetValue(key, out var found) && found.Provenance.Any(p => p.AgentId != provenance.AgentId);
        var entity = _entities.TryGetValue(key, out var existing)
            ? existing with { Type = shared ? existing.Type ?? type : type ?? existing.Type, Attributes = new(existing.Attributes, StringComparer.Ordinal), Provenance = [.. existing.Provenance], UpdatedAt = provenance.At }
            : new Entity { Key = key, Name = name.Trim(), Type = type, CreatedAt = provenance.At, UpdatedAt = provenance.At };
        foreach (var (k, v) in attributes ?? new Dictionary<string, string>())
        {
            if (!shared || !entity.Attributes.ContainsKey(k))
            {
                entity.Attributes[k] = v;
            }
        }
        if (!entity.Provenance.Any(p => SameSource(p, provenance)))
        {
            entity.Provenance.Add(provenance);
        }
        _entities[key] = entity;
        change.Entities[key] = entity;
        return entity;
    }

    /// <summary>
    /// Adds a fact. The same open fact again only gains the provenance. For a single-valued predicate (configured, or
    /// <paramref name="singleValued"/>), an open fact of the subject with another object is closed at the new fact's
    /// <c>validFrom</c>; a new fact older than the open one is stored already closed by it.
    /// </summary>
    /// <remarks>Only facts <paramref name="closable"/> allows are closed (an agent closes only facts it asserted).</remarks>
    public (Relation Relation, bool Created) AddRelation(string subject, string predicate, string obj, DateTimeOffset? validFrom, bool? singleValued, Provenance provenance, GraphChange change,
        Func<Relation, bool>? closable = null)
    {
        var s = MergeEntity(subject, null, null, provenance, change).Key;
        var o = MergeEntity(obj, null, null, provenance, change).Key;
        var p = GraphNames.Predicate(predicate);
        var from = validFrom ?? provenance.At;
        var single = singleValued ?? singleValuedPredicates.Contains(p);
        var open = RelationsOf(s).Where(r => r.Subject == s && r.Predicate == p && r.ValidTo is null).ToList();
        if (open.FirstOrDefault(r => r.Object == o) is { } same)
        {
            var merged = same with { Provenance = [.. same.Provenance] };
            if (!merged.Provenance.Any(x => SameSource(x, provenance)))
            {
                merged.Provenance.Add(provenance);
            }
            Replace(merged, change);
            return (merged, false);
        }
        var relation = new Relation
        {
            Id = "rel_" + Guid.NewGuid().ToString("N"),
            Subject = s, Predicate = p, Object = o, ValidFrom = from, SingleValued = single,
            Provenance = [provenance], CreatedAt = provenance.At,
        };
        if (single)
        {
            foreach (var old in open.Where(r => closable?.Invoke(r) ?? true))
            {
                if (old.ValidFrom <= from)
                {
                    Replace(old with { ValidTo = from, ClosedBy = relation.Id }, change);
                }
                else
                {
                    relation = relation with { ValidTo = old.ValidFrom, ClosedBy = old.Id };
                }
            }
        }
        Put(relation);
        change.Relations[relation.Id] = relation;
        return (relation, true);
    }

    /// <summary>
    /// Takes away every provenance entry <paramref name="match"/> selects (a memory, or everything an agent asserted).
    /// A relation left with none is deleted, and facts it had closed are open again; an entity left with no
    /// provenance and no relations is deleted.
    /// </summary>
    public void RemoveProvenance(Func<Provenance, bool> match, GraphChange change)
    {
        foreach (var relation in _relations.Values.Where(r => r.Provenance.Any(match)).ToList())
        {
            var left = relation.Provenance.Where(p => !match(p)).ToList();
            if (left.Count > 0)
            {
                Replace(relation with { Provenance = left }, change);
                continue;
            }
            Delete(relation, change);
            foreach (var closed in _relations.Values.Where(r => r.ClosedBy == relation.Id).ToList())
            {
                Replace(closed with { ValidTo = null, ClosedBy = null }, change);
            }
        }
        foreach (var entity in _entities.Values.Where(e => e.Provenance.Any(match)).ToList())
        {
            var left = entity.Provenance.Where(p => !match(p)).ToList();
            change.Entities.Remove(entity.Key);
            if (left.Count == 0 && RelationsOf(entity.Key).Count == 0)
            {
                _entities.Remove(entity.Key);
                change.DeletedEntities.Add(entity.Key);
                continue;
            }
            var updated = entity with { Provenance = left };
            _entities[entity.Key] = updated;
            change.Entities[entity.Key] = updated;
        }
    }

    /// <summary>
    /// The entities within <paramref name="depth"/> hops of <paramref name="start"/> and the edges between them that
    /// were valid at <paramref name="asOf"/> (every edge, closed ones too, when <paramref name="asOf"/> is null and
    /// <paramref name="history"/> is set). <paramref name="visible"/> picks the edges the caller may see. Stops taking
    /// new entities at <paramref name="maxNodes"/> (a hub a few hops away could otherwise pull in the whole graph) and
    /// says so with <see cref="GraphView.Truncated"/>; edges are kept only between entities it took.
    /// </summary>
    public GraphView Neighbourhood(IEnumerable<string> start, int depth, DateTimeOffset asOf, bool history, Func<Relation, bool> visible, int maxNodes = DefaultMaxNodes)
    {
        var nodes = new HashSet<string>(start.Where(_entities.ContainsKey).Take(maxNodes), StringComparer.Ordinal);
        var edges = new Dictionary<string, Relation>(StringComparer.Ordinal);
        var frontier = nodes.ToList();
        var truncated = false;
        for (var hop = 0; hop < depth && frontier.Count > 0; hop++)
        {
            var next = new List<string>();
            foreach (var key in frontier)
            {
                foreach (var r in RelationsOf(key).Where(r => (history || r.ValidAt(asOf)) && visible(r)))
                {
                    var other = r.Subject == key ? r.Object : r.Subject;
                    if (!nodes.Contains(other))
                    {
                        if (nodes.Count >= maxNodes)
                        {
                            truncated = true;
                            continue;
                        }
                        nodes.Add(other);
                        next.Add(other);
                    }
                    edges[r.Id] = r;
                }
            }
            frontier = next;
        }
        return new GraphView(
            nodes.Select(k => _entities.GetValueOrDefault(k)).OfType<Entity>().OrderBy(e => e.Key, StringComparer.Ordinal).ToList(),
            edges.Values.OrderBy(e => e.ValidFrom).ThenBy(e => e.Id, StringComparer.Ordinal).ToList(),
            truncated);
    }

    /// <summary>How many entities one walk returns at most.</summary>
    public const int DefaultMaxNodes = 1_000;

    public IReadOnlyCollection<Relation> RelationsOf(string entityKey) =>
        _adjacent.TryGetValue(entityKey, out var ids) ? ids.Select(id => _relations[id]).ToList() : [];

    private void Put(Relation relation)
    {
        _relations[relation.Id] = relation;
        foreach (var key in new[] { relation.Subject, relation.Object })
        {
            if (!_adjacent.TryGetValue(key, out var ids))
            {
                _adjacent[key] = ids = new HashSet<string>(StringComparer.Ordinal);
            }
            ids.Add(relation.Id);
        }
    }

    private void Replace(Relation relation, GraphChange change)
    {
        _relations[relation.Id] = relation;
        change.Relations[relation.Id] = relation;
    }

    private void Delete(Relation relation, GraphChange change)
    {
        _relations.Remove(relation.Id);
        change.Relations.Remove(relation.Id);
        change.DeletedRelations.Add(relation.Id);
        foreach (var key in new[] { relation.Subject, relation.Object })
        {
            if (_adjacent.TryGetValue(key, out var ids))
            {
                ids.Remove(relation.Id);
                if (ids.Count == 0)
                {
                    _adjacent.Remove(key);
                }
            }
        }
    }

    private static bool SameSource(Provenance a, Provenance b) =>
        a.AgentId == b.AgentId && a.Principal == b.Principal && a.MemoryId == b.MemoryId && a.Source == b.Source;
}
