using System.Text.Json;
using AgenticFlow.Memory.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Storage;

public sealed record CacheEntry(string Namespace, string Key, JsonElement Value, DateTimeOffset StoredAt, DateTimeOffset? ExpiresAt);

/// <summary>
/// Hot data for agents: one record per key (<c>cache:{namespace}:{key}</c>) with the store's TTL, and the expiry
/// kept in the record too, so an entry is never served past it even where the store purges late. Each namespace
/// (an agent's id, or <c>shared</c>) lists its keys so that forgetting the agent removes them. Replacing or
/// deleting an entry publishes <c>memory.cache-invalidated</c>, for replicas and agents that hold a copy.
/// </summary>
public sealed class CacheStore(DaprClient dapr, SegmentedLists lists, IOptions<MemoryOptions> options, TimeProvider time, ILogger<CacheStore> logger)
{
    private readonly string _store = options.Value.StateStore;

    private static string Key(string ns, string key) => $"cache:{ns}:{key}";
    private static string KeyList(string ns) => $"cache-keys:{ns}";

    public async Task<CacheEntry?> GetAsync(string ns, string key, CancellationToken ct)
    {
        var entry = await dapr.GetStateAsync<CacheEntry?>(_store, Key(ns, key), cancellationToken: ct);
        return entry is not null && (entry.ExpiresAt is null || entry.ExpiresAt > time.GetUtcNow()) ? entry : null;
    }

    /// <summary>Stores the entry; answers whether it replaced a live one.</summary>
    public async Task<(CacheEntry Entry, bool Replaced)> PutAsync(string ns, string key, JsonElement value, int? ttlSeconds, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var existing = await dapr.GetStateAsync<CacheEntry?>(_store, Key(ns, key), cancellationToken: ct);
        var entry = new CacheEntry(ns, key, value, now, ttlSeconds is { } ttl ? now.AddSeconds(ttl) : null);
        var metadata = ttlSeconds is { } seconds ? new Dictionary<string, string> { ["ttlInSeconds"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) } : null;
        if (existing is null)
        {
            // Listed before it is written, so no stored entry is ever missing from its namespace's list.
            await lists.AddAsync(KeyList(ns), key, ct);
        }
        await dapr.SaveStateAsync(_store, Key(ns, key), entry, metadata: metadata, cancellationToken: ct);
        var replaced = existing is not null && (existing.ExpiresAt is null || existing.ExpiresAt > now);
        if (replaced)
        {
            await dapr.TryPublishEventAsync(options.Value.PubSub, MemoryTopics.CacheInvalidated, new CacheInvalidated(ns, key, "replaced", now), logger, ct);
        }
        return (entry, replaced);
    }

    public async Task<bool> DeleteAsync(string ns, string key, CancellationToken ct)
    {
        var existing = await GetAsync(ns, key, ct);
        await dapr.DeleteStateAsync(_store, Key(ns, key), cancellationToken: ct);
        await lists.RemoveAsync(KeyList(ns), new HashSet<string>(StringComparer.Ordinal) { key }, ct);
        if (existing is not null)
        {
            await dapr.TryPublishEventAsync(options.Value.PubSub, MemoryTopics.CacheInvalidated, new CacheInvalidated(ns, key, "deleted", time.GetUtcNow()), logger, ct);
        }
        return existing is not null;
    }

    public async Task ForgetNamespaceAsync(string ns, CancellationToken ct)
    {
        foreach (var key in (await lists.ReadAsync(KeyList(ns), ct)).Distinct(StringComparer.Ordinal))
        {
            await dapr.DeleteStateAsync(_store, Key(ns, key), cancellationToken: ct);
            await dapr.TryPublishEventAsync(options.Value.PubSub, MemoryTopics.CacheInvalidated, new CacheInvalidated(ns, key, "agent-forgotten", time.GetUtcNow()), logger, ct);
        }
        await lists.DeleteAsync(KeyList(ns), ct);
    }
}
