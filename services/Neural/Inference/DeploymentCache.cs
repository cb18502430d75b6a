using System.Collections.Concurrent;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Storage;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Inference;

/// <summary>
/// This replica's view of each model's record (versions and deployment). A deployment event refreshes it (every
/// replica subscribes); an entry older than <see cref="NeuralOptions.DeploymentCacheSeconds"/> is read again, so a
/// lost event costs at most that long. A newer revision never gives way to an older one.
/// </summary>
public sealed class DeploymentCache(ModelRegistry registry, IOptions<NeuralOptions> options, TimeProvider time)
{
    private sealed record Entry(ModelRecord Model, DateTimeOffset ReadAt);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async Task<ModelRecord?> GetAsync(string modelId, CancellationToken ct)
    {
        if (_entries.TryGetValue(modelId, out var entry) && time.GetUtcNow() - entry.ReadAt < TimeSpan.FromSeconds(options.Value.DeploymentCacheSeconds))
        {
            return entry.Model;
        }
        return await RefreshAsync(modelId, ct);
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
