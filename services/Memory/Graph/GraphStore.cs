using AgenticFlow.Memory.Storage;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Graph;

/// <summary>
/// The knowledge graph kept in the store with get/set/delete only: each entity (<c>kg-entity:{key}</c>) and each
/// relation (<c>kg-relation:{id}</c>) is a record, found again at start through the lists <c>kg-entities</c> and
/// <c>kg-relations</c>. Changes are made one at a time; a change that cannot be written is undone by reading the
/// graph back from the store.
/// </summary>
public sealed class GraphStore(DaprClient dapr, IOptions<MemoryOptions> options, SegmentedLists lists)
{
    private const string EntityList = "kg-entities", RelationList = "kg-relations";
    private readonly string _store = options.Value.StateStore;
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly ReaderWriterLockSlim _read = new();
    private KnowledgeGraph _graph = NewGraph(options.Value);
    private readonly HashSet<string> _storedEntities = new(StringComparer.Ordinal), _storedRelations = new(StringComparer.Ordinal);

    private static KnowledgeGraph NewGraph(MemoryOptions o) =>
        new(o.SingleValuedPredicates.Select(GraphNames.Predicate).ToHashSet(StringComparer.Ordinal));

    public async Task LoadAsync(CancellationToken ct)
    {
        var entities = await ReadAsync<Entity>(EntityList, k => $"kg-entity:{k}", ct);
        var relations = await ReadAsync<Relation>(RelationList, id => $"kg-relation:{id}", ct);
        var graph = NewGraph(options.Value);
        graph.Load(entities, relations);
        _read.EnterWriteLock();
        try
        {
            _graph = graph;
            _storedEntities.Clear();
            _storedEntities.UnionWith(entities.Select(e => e.Key));
            _storedRelations.Clear();
            _storedRelations.UnionWith(relations.Select(r => r.Id));
        }
        finally
        {
            _read.ExitWriteLock();
        }
    }

    private async Task<List<T>> ReadAsync<T>(string list, Func<string, string> key, CancellationToken ct)
    {
        var found = new List<T>();
        foreach (var batch in (await lists.ReadAsync(list, ct)).Distinct(StringComparer.Ordinal).Chunk(100))
        {
            foreach (var item in await dapr.GetBulkStateAsync(_store, batch.Select(key).ToList(), parallelism: 8, cancellationToken: ct))
            {
                if (!string.IsNullOrEmpty(item.Value) && System.Text.Json.JsonSerializer.Deserialize<T>(item.Value, Json.Options) is { } value)
                {
                    found.Add(value);
                }
            }
        }
        return found;
    }

    /// <summary>Runs one change against the graph and writes what it touched; answers once everything is stored.</summary>
    public async Task<T> ChangeAsync<T>(Func<KnowledgeGraph, GraphChange, T> apply, CancellationToken ct)
    {
        await _write.WaitAsync(ct);
        try
        {
            var change = new GraphChange();
            T result;
            _read.EnterWriteLock();
            try
            {
                result = apply(_graph, change);
            }
            finally
            {
                _read.ExitWriteLock();
            }
            try
            {
                await WriteAsync(change, ct);
            }
            catch
            {
                // The graph in memory is ahead of the store: read the stored graph back so nothing unstored is served.
                await LoadAsync(CancellationToken.None);
                throw;
            }
            return result;
        }
        finally
        {
            _write.Release();
        }
    }

    private async Task WriteAsync(GraphChange change, CancellationToken ct)
    {
        foreach (var entity in change.Entities.Values)
        {
            await dapr.SaveStateAsync(_store, $"kg-entity:{entity.Key}", entity, cancellationToken: ct);
            if (_storedEntities.Add(entity.Key))
            {
                await lists.AddAsync(EntityList, entity.Key, ct);
            }
        }
        foreach (var relation in change.Relations.Values)
        {
            await dapr.SaveStateAsync(_store, $"kg-relation:{relation.Id}", relation, cancellationToken: ct);
            if (_storedRelations.Add(relation.Id))
            {
                await lists.AddAsync(RelationList, relation.Id, ct);
            }
        }
        foreach (var id in change.DeletedRelations)
        {
            await dapr.DeleteStateAsync(_store, $"kg-relation:{id}", cancellationToken: ct);
        }
        foreach (var key in change.DeletedEntities)
        {
            await dapr.DeleteStateAsync(_store, $"kg-entity:{key}", cancellationToken: ct);
        }
        if (change.DeletedRelations.Count > 0)
        {
            await lists.RemoveAsync(RelationList, change.DeletedRelations, ct);
            _storedRelations.ExceptWith(change.DeletedRelations);
        }
        if (change.DeletedEntities.Count > 0)
        {
            await lists.RemoveAsync(EntityList, change.DeletedEntities, ct);
            _storedEntities.ExceptWith(change.DeletedEntities);
        }
    }

    /// <summary>Reads the graph under a shared lock.</summary>
    public T Read<T>(Func<KnowledgeGraph, T> read)
    {
        _read.EnterReadLock();
        try
        {
            return read(_graph);
        }
        finally
        {
            _read.ExitReadLock();
        }
    }
}
