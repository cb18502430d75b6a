using AgenticFlow.Memory.Graph;
using AgenticFlow.Memory.Search;
using AgenticFlow.Memory.Storage;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Domain;

public sealed record StoreCommand(
    string AgentId, string? TeamId, MemoryKind Kind, string Content, string? Task, string? Action, Outcome? Outcome, double? Score,
    double Importance, IReadOnlyList<string> Tags, int? TtlSeconds, IReadOnlyList<EntityRef> Entities, IReadOnlyList<RelationAssertion> Relations,
    string? Principal, bool Extract = true);

public enum DeleteStatus { Deleted, NotFound, AppendOnly }

/// <summary>
/// Storing, reading and forgetting memories. A memory is embedded, written to the store, and only then indexed,
/// linked into the graph and acknowledged; the indexes are derived from the store and rebuilt from it. One agent's
/// writes and forgets take turns (a per-agent lock in this process), so a memory stored while its agent is being
/// forgotten is either forgotten with it or kept whole — never left half-listed, or indexed but unlisted.
/// </summary>
public sealed class MemoryService(
    MemoryStore store, MemoryIndex index, GraphStore graph, CacheStore cache, IEmbeddingGenerator<string, Embedding<float>> embeddings,
    MemoryLoad load, DaprClient dapr, IOptions<MemoryOptions> options, TimeProvider time, ILogger<MemoryService> logger)
{
    private readonly string _pubsub = options.Value.PubSub;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _agentTurns = new(StringComparer.Ordinal);

    private async Task<IDisposable> TurnOfAsync(string agentId, CancellationToken ct)
    {
        var gate = _agentTurns.GetOrAdd(agentId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Turn(gate);
    }

    private sealed class Turn(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    public string ModelId { get; } = embeddings.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? "unknown";

    public async Task<float[]> EmbedAsync(string text, CancellationToken ct) =>
        (await embeddings.GenerateAsync([text], cancellationToken: ct))[0].Vector.ToArray();

    public async Task<MemoryRecord> StoreAsync(StoreCommand command, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        var now = time.GetUtcNow();
        var record = new MemoryRecord
        {
            Id = "mem_" + Guid.NewGuid().ToString("N"),
            AgentId = command.AgentId, TeamId = command.TeamId, Kind = command.Kind, Content = command.Content,
            Task = command.Task, Action = command.Action, Outcome = command.Outcome, Score = command.Score,
            Importance = command.Importance, Tags = command.Tags, Entities = command.Entities, Relations = command.Relations,
            CreatedAt = now, ExpiresAt = command.TtlSeconds is { } ttl ? now.AddSeconds(ttl) : null, EmbeddingModel = ModelId,
        };
        var vector = await EmbedAsync(record.SearchText, ct);
        record = record with { Embedding = VectorKeys.Encode(vector) };
        using (await TurnOfAsync(record.AgentId, ct))
        {
            await store.SaveAsync(record, newAgent: !index.HasAgent(record.AgentId), now, ct);
            index.Add(record, vector);
            if (record.Entities.Count > 0 || record.Relations.Count > 0)
            {
                await graph.ChangeAsync((g, change) => { Link(g, record, command.Principal, change); return 0; }, ct);
            }
        }
        await dapr.TryPublishEventAsync(_pubsub, MemoryTopics.Stored,
            new MemoryStored(record.AgentId, record.Id, record.Kind.ToString().ToLowerInvariant(), record.Tags, record.TeamId, record.CreatedAt,
                options.Value.Extraction.Enabled && command.Extract), logger, ct);
        return record.WithoutEmbedding();
    }

    /// <summary>Puts a memory's entities and relations into the graph, with the memory as their provenance.</summary>
    public static void Link(KnowledgeGraph g, MemoryRecord record, string? principal, GraphChange change)
    {
        var provenance = new Provenance(record.AgentId, principal, record.Id, record.CreatedAt, Provenance.Asserted);
        foreach (var entity in record.Entities)
        {
            g.MergeEntity(entity.Name, entity.Type, null, provenance, change);
        }
        foreach (var r in record.Relations)
        {
            g.AddRelation(r.Subject, r.Predicate, r.Object, r.ValidFrom, r.SingleValued, provenance, change);
        }
    }

    public async Task<MemoryRecord?> GetAsync(string agentId, string id, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        return index.Get(id) is { } m && m.AgentId == agentId && m.IsLive(time.GetUtcNow()) ? m : null;
    }

    public async Task<(IReadOnlyList<MemoryRecord> Items, int Total)> ListAsync(string agentId, MemoryFilter filter, int offset, int limit, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        var now = time.GetUtcNow();
        var matching = index.In(new MemoryScope(agentId, null, false)).Where(m => m.IsLive(now) && filter.Matches(m))
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id, StringComparer.Ordinal).ToList();
        return (matching.Skip(offset).Take(limit).ToList(), matching.Count);
    }

    /// <summary>Deletes one fact or note. Experiences are append-only: they leave only with their agent, or when they expire.</summary>
    public async Task<DeleteStatus> DeleteAsync(string agentId, string id, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        if (index.Get(id) is not { } record || record.AgentId != agentId)
        {
            return DeleteStatus.NotFound;
        }
        if (record.Kind == MemoryKind.Experience)
        {
            return DeleteStatus.AppendOnly;
        }
        await ForgetMemoriesAsync(agentId, [id], "deleted", ct);
        return DeleteStatus.Deleted;
    }

    /// <summary>Removes memories from the store, the indexes and the graph (edges they alone supported go; others lose them as provenance).</summary>
    public async Task ForgetMemoriesAsync(string agentId, IReadOnlyList<string> ids, string reason, CancellationToken ct)
    {
        using (await TurnOfAsync(agentId, ct))
        {
            await store.DeleteAsync(agentId, ids, ct);
            foreach (var id in ids)
            {
                index.Remove(id);
            }
            var set = ids.ToHashSet(StringComparer.Ordinal);
            await graph.ChangeAsync((g, change) => { g.RemoveProvenance(p => p.MemoryId is { } m && set.Contains(m), change); return 0; }, ct);
        }
        await dapr.TryPublishEventAsync(_pubsub, MemoryTopics.Forgotten, new MemoryForgotten(agentId, ids, reason, time.GetUtcNow()), logger, ct);
    }

    /// <summary>
    /// Forgets an agent completely: every record (as the store lists them, not only those indexed), the lists, its
    /// vectors and keywords (the saved index is rewritten at once), every graph assertion it made (edges it alone
    /// supported are deleted), and its cache entries. Returns how many memories went.
    /// </summary>
    public async Task<int> ForgetAgentAsync(string agentId, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        List<string> ids;
        using (await TurnOfAsync(agentId, ct))
        {
            ids = index.IdsOf(agentId).ToList();
            await store.DeleteAgentAsync(agentId, ct);
            foreach (var id in ids)
            {
                index.Remove(id);
            }
            await graph.ChangeAsync((g, change) => { g.RemoveProvenance(p => p.AgentId == agentId, change); return 0; }, ct);
        }
        await cache.ForgetNamespaceAsync(agentId, ct);
        load.SaveIndex();
        await dapr.TryPublishEventAsync(_pubsub, MemoryTopics.Forgotten, new MemoryForgotten(agentId, ids, "agent-forgotten", time.GetUtcNow()), logger, ct);
        return ids.Count;
    }

    /// <summary>Memories past their TTL leave the indexes, the agent's list and the graph.</summary>
    public async Task SweepExpiredAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var group in index.All.Where(m => !m.IsLive(now)).GroupBy(m => m.AgentId, StringComparer.Ordinal).ToList())
        {
            await ForgetMemoriesAsync(group.Key, group.Select(m => m.Id).ToList(), "expired", ct);
        }
    }
}
