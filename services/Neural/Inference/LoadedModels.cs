using System.Collections.Concurrent;
using System.Security.Cryptography;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Storage;

namespace AgenticFlow.Neural.Inference;

/// <summary>Versions loaded into this replica, each once (concurrent first calls share one load) and kept warm. A
/// version's artifact never changes, so a loaded version never goes stale.</summary>
public sealed class LoadedModels(IArtifactStore artifacts) : IDisposable
{
    private readonly ConcurrentDictionary<(string Model, int Version), Lazy<Task<ILoadedModel>>> _loaded = new();

    public static int Workers => Math.Max(2, Environment.ProcessorCount);

    public async Task<ILoadedModel> GetAsync(string modelId, ModelVersion version, CancellationToken ct)
    {
        var key = (modelId, version.Version);
        var lazy = _loaded.GetOrAdd(key, _ => new Lazy<Task<ILoadedModel>>(() => LoadAsync(version)));
        try
        {
            return await lazy.Value.WaitAsync(ct);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            // A failed load is not remembered: the next call tries again.
            _loaded.TryRemove(new KeyValuePair<(string, int), Lazy<Task<ILoadedModel>>>(key, lazy));
            throw;
        }
    }

    private async Task<ILoadedModel> LoadAsync(ModelVersion version)
    {
        var bytes = await artifacts.GetAsync(version.ArtifactKey, CancellationToken.None)
            ?? throw new InvalidOperationException($"artifact {version.ArtifactKey} of version {version.Version} is missing");
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != version.ArtifactSha256)
        {
            throw new InvalidDataException($"artifact {version.ArtifactKey} does not match the hash registered with version {version.Version}");
        }
        return await Task.Run<ILoadedModel>(() => version.Format == ArtifactFormats.Onnx
            ? new OnnxModel(bytes)
            : new MlNetModel(bytes, version.Schema!, Workers));
    }

    /// <summary>Unloads this model's versions other than <paramref name="keep"/> (the deployment's active and canary):
    /// every retrained version would otherwise stay in memory for good. Each is disposed after a grace period, so an
    /// inference that picked it just before finishes on it; a later call naming it loads it again.</summary>
    public void Retain(string modelId, IReadOnlySet<int> keep, TimeSpan grace)
    {
        foreach (var entry in _loaded.Where(e => e.Key.Model == modelId && !keep.Contains(e.Key.Version)).ToList())
        {
            if (_loaded.TryRemove(entry) && entry.Value.IsValueCreated)
            {
                _ = DisposeLaterAsync(entry.Value.Value, grace);
            }
        }
    }

    private static async Task DisposeLaterAsync(Task<ILoadedModel> loading, TimeSpan grace)
    {
        try
        {
            var model = await loading;
            await Task.Delay(grace);
            model.Dispose();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // It never loaded (a missing or corrupt artifact): nothing to release.
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _loaded.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully))
        {
            lazy.Value.Result.Dispose();
        }
    }
}
