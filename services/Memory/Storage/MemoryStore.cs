using AgenticFlow.Memory.Domain;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Storage;

/// <summary>
/// Memories as the store holds them, using only get, set, delete and TTL (what Dapr's <c>state.cassandra</c> offers):
/// one record per memory (<c>memory:{agent}:{id}</c>, with the store's TTL when it has one), the agent's list of
/// memory ids (<see cref="SegmentedLists"/> under <c>agent-memories:{agent}</c>) and the list of agents that have
/// memories (<c>agents</c>), which is how everything is found again at start.
/// </summary>
public sealed class MemoryStore(DaprClient dapr, IOptions<MemoryOptions> options)
{
    private const string AgentsList = "agents";
    private readonly string _store = options.Value.StateStore;
    private readonly SegmentedLists _lists = new(dapr, options.Value.StateStore);

    public SegmentedLists Lists => _lists;

    private static string RecordKey(string agentId, string id) => $"memory:{agentId}:{id}";
    private static string AgentList(string agentId) => $"agent-memories:{agentId}";

    /// <summary>Writes the record, then lists it under its agent (and the agent among the agents when new). Only when
    /// both are stored is the memory acknowledged; a crash in between leaves an unlisted record nobody was promised.</summary>
    public async Task SaveAsync(MemoryRecord record, bool newAgent, DateTimeOffset now, CancellationToken ct)
    {
        var metadata = record.ExpiresAt is { } expires
            ? new Dictionary<string, string> { ["ttlInSeconds"] = Math.Max(1, (int)Math.Ceiling((expires - now).TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) }
            : null;
        await dapr.SaveStateAsync(_store, RecordKey(record.AgentId, record.Id), record, metadata: metadata, cancellationToken: ct);
        await _lists.AddAsync(AgentList(record.AgentId), record.Id, ct);
        if (newAgent)
        {
            await _lists.AddAsync(AgentsList, record.AgentId, ct);
        }
    }

    /// <summary>Writes many memories of new agents in bulk: the records, each agent's list and the list of agents.
    /// For seeding a store (the benchmark); the normal write path is <see cref="SaveAsync"/>.</summary>
    public async Task SeedAsync(IReadOnlyList<MemoryRecord> records, CancellationToken ct)
    {
        foreach (var batch in records.Chunk(200))
        {
            await dapr.SaveBulkStateAsync(_store, batch.Select(r => new SaveStateItem<MemoryRecord>(RecordKey(r.AgentId, r.Id), r, null! /* no ETag: Cassandra has none */)).ToList(), cancellationToken: ct);
        }
        var byAgent = records.GroupBy(r => r.AgentId, StringComparer.Ordinal).ToList();
        foreach (var agent in byAgent)
        {
            await _lists.WriteNewAsync(AgentList(agent.Key), agent.Select(r => r.Id).ToList(), ct);
        }
        await _lists.WriteNewAsync(AgentsList, byAgent.Select(a => a.Key).ToList(), ct);
    }

    public Task<MemoryRecord?> GetAsync(string agentId, string id, CancellationToken ct) =>
        dapr.GetStateAsync<MemoryRecord?>(_store, RecordKey(agentId, id), cancellationToken: ct);

    public async Task DeleteAsync(string agentId, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        foreach (var id in ids)
        {
            await dapr.DeleteStateAsync(_store, RecordKey(agentId, id), cancellationToken: ct);
        }
        await _lists.RemoveAsync(AgentList(agentId), ids.ToHashSet(StringComparer.Ordinal), ct);
    }

    /// <summary>Deletes every record the agent's list names, the list, and the agent's entry among the agents.</summary>
    public async Task DeleteAgentAsync(string agentId, CancellationToken ct)
    {
        foreach (var id in await _lists.ReadAsync(AgentList(agentId), ct))
        {
            await dapr.DeleteStateAsync(_store, RecordKey(agentId, id), cancellationToken: ct);
        }
        await _lists.DeleteAsync(AgentList(agentId), ct);
        await _lists.RemoveAsync(AgentsList, new HashSet<string>(StringComparer.Ordinal) { agentId }, ct);
    }

    /// <summary>Every stored memory, agent by agent (expired records are gone from the store or skipped by the caller).</summary>
    public async IAsyncEnumerable<MemoryRecord> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var agentId in (await _lists.ReadAsync(AgentsList, ct)).Distinct(StringComparer.Ordinal))
        {
            var ids = await _lists.ReadAsync(AgentList(agentId), ct);
            // Listed ids whose record is gone expired (or were deleted by a process that died before updating the list):
            // a record is always written before its list entry, so such entries are dropped from the list.
            var gone = new HashSet<string>(StringComparer.Ordinal);
            foreach (var batch in ids.Chunk(100))
            {
                var items = await dapr.GetBulkStateAsync(_store, batch.Select(id => RecordKey(agentId, id)).ToList(), parallelism: 8, cancellationToken: ct);
                foreach (var item in items)
                {
                    if (!string.IsNullOrEmpty(item.Value)
                        && System.Text.Json.JsonSerializer.Deserialize<MemoryRecord>(item.Value, Json.Options) is { } record)
                    {
                        yield return record;
                    }
                    // The SDK's bulk read shows a key it failed to read like an absent one: it is read again on its own
                    // (which throws on a store error, so the load is retried) before its id leaves the list for good.
                    else if (await dapr.GetStateAsync<MemoryRecord?>(_store, item.Key, cancellationToken: ct) is { } reread)
                    {
                        yield return reread;
                    }
                    else
                    {
                        gone.Add(item.Key[(agentId.Length + "memory::".Length)..]);
                    }
                }
            }
            if (gone.Count > 0)
            {
                await _lists.RemoveAsync(AgentList(agentId), gone, ct);
            }
        }
    }
}

public static class Json
{
    /// <summary>The options DaprClient uses for state (web defaults), so records read in bulk decode the same way.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web);
}
