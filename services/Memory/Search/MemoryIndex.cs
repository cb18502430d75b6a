using System.Collections.Concurrent;
using AgenticFlow.Memory.Domain;

namespace AgenticFlow.Memory.Search;

/// <summary>
/// Every live memory in this process, found by id, by agent, by vector (HNSW) and by keyword (BM25). All of it is
/// derived from the stored records and filled again from them at start; a record is added only once it is stored.
/// </summary>
public sealed class MemoryIndex(VectorIndex vectors, KeywordIndex keywords)
{
    private readonly ConcurrentDictionary<string, MemoryRecord> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ulong, string> _idByKey = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _byAgent = new(StringComparer.Ordinal);

    public VectorIndex Vectors => vectors;
    public KeywordIndex Keywords => keywords;
    public int Count => _byId.Count;

    public MemoryRecord? Get(string id) => _byId.GetValueOrDefault(id);

    public string? IdOf(ulong key) => _idByKey.GetValueOrDefault(key);

    public bool HasAgent(string agentId) => _byAgent.TryGetValue(agentId, out var ids) && !ids.IsEmpty;

    public IReadOnlyCollection<string> IdsOf(string agentId) => _byAgent.TryGetValue(agentId, out var ids) ? ids.Keys.ToList() : [];

    /// <summary>The memories a scope can see (one agent's alone when the scope is one agent).</summary>
    public IEnumerable<MemoryRecord> In(MemoryScope scope) =>
        scope is { All: false, TeamId: null, AgentId: { } agent }
            ? IdsOf(agent).Select(Get).OfType<MemoryRecord>()
            : _byId.Values.Where(scope.Contains);

    public IEnumerable<MemoryRecord> All => _byId.Values;

    /// <summary>Adds a stored record; <paramref name="vector"/> may be null when the loaded index holds it already.</summary>
    public void Add(MemoryRecord record, float[]? vector)
    {
        var slim = record.WithoutEmbedding();
        if (vector is not null)
        {
            vectors.Add(slim.VectorKey, vector);
        }
        keywords.Add(slim.Id, slim.SearchText);
        _idByKey[slim.VectorKey] = slim.Id;
        _byAgent.GetOrAdd(slim.AgentId, _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal))[slim.Id] = 0;
        _byId[slim.Id] = slim;
    }

    public void Remove(string id)
    {
        if (!_byId.TryRemove(id, out var record))
        {
            return;
        }
        vectors.Remove(record.VectorKey);
        keywords.Remove(id);
        _idByKey.TryRemove(record.VectorKey, out _);
        if (_byAgent.TryGetValue(record.AgentId, out var ids))
        {
            ids.TryRemove(id, out _);
        }
    }

    /// <summary>Vector keys in the index that no live record claims (left in a saved index by records deleted since).</summary>
    public IReadOnlyList<ulong> OrphanVectorKeys() => vectors.Keys().Where(k => !_idByKey.ContainsKey(k)).ToList();
}
