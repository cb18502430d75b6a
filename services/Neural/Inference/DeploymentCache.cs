using System.Collections.Concurrent;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Storage;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Inference;

/// <summary>
/// This replica's view of each model's record (versions and deployment). A deployment event refreshes the replica
/// that receives it; since pub/sub hands each event to one replica of an app, every replica also reads an entry again
/// once it is older than <see cref="NeuralOptions.DeploymentCacheSeconds"/> (1 s by default), so a deploy reaches
/// every replica within about a second. Callers arriving together share one read. A newer revision never gives way
/// to an older one.
/// </summary>
public sealed class DeploymentCache(ModelRegistry registry, IOptions<NeuralOptions> options, TimeProvider time)
{
    private sealed record Entry(ModelRecord Model, DateTimeOffset ReadAt);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<ModelRecord?>>> _reads = new(StringComparer.Ordinal);

    public async Task<ModelRecord?> GetAsync(string modelId, CancellationToken ct)
    {
        if (_entries.TryGetValue(modelId, out var entry) && time.GetUtcNow() - entry.ReadAt < TimeSpan.FromSeconds(options.Value.DeploymentCacheSeconds))
        {
            return entry.Model;
        }
        // One read per model at a time, shared by every caller that finds the entry stale; no caller's cancellation ends it.
        var read = _reads.GetOrAdd(modelId, id => new Lazy<Task<ModelRecord?>>(() => SharedRefreshAsync(id)));
        return await read.Value.WaitAsync(ct);
    }

    private async Task<ModelRecord?> SharedRefreshAsync(string modelId)
    {
        try
        {
            return await RefreshAsync(modelId, CancellationToken.None);
        }
        finally
        {
            _reads.TryRemove(modelId, out _);
        }
    }

    public async Task<ModelRecord?> RefreshAsync(string modelId, CancellationToken ct)
    {
        var (model, _) = await registry.GetAsync(modelId, ct);
        if (model is null)
        {
            _entries.TryRemove(modelId, out _);
            return null;
        }
        Set(model);
        return model;
    }

    public void Set(ModelRecord model)
    {
        var entry = new Entry(model, time.GetUtcNow());
        _entries.AddOrUpdate(model.Id, entry, (_, old) =>
            old.Model.Deployment.Revision > model.Deployment.Revision
            || (old.Model.Deployment.Revision == model.Deployment.Revision && old.Model.Versions.Count > model.Versions.Count) ? old with { ReadAt = entry.ReadAt } : entry);
    }

    public void Invalidate(string modelId) => _entries.TryRemove(modelId, out _);
}
