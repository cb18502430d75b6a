using AgenticFlow.Neural.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Storage;

/// <summary>The model registry in the state store: one document per model (versions and deployment, one ETag) and
/// an index of model ids. It is the registry of artifacts too: nothing lists the artifact bucket.</summary>
public sealed class ModelRegistry(DaprClient dapr, IOptions<NeuralOptions> options, TimeProvider time)
{
    private const string IndexKey = "neural-models";
    private string Store => options.Value.StateStore;

    public static string KeyOf(string modelId) => "neural-model:" + modelId;

    public async Task<(ModelRecord? Model, string ETag)> GetAsync(string modelId, CancellationToken ct)
    {
        var (model, etag) = await dapr.GetStateAndETagAsync<ModelRecord?>(Store, KeyOf(modelId), cancellationToken: ct);
        return (model, etag ?? "");
    }

    public async Task<IReadOnlyList<ModelRecord>> ListAsync(CancellationToken ct)
    {
        var index = await dapr.GetStateAsync<List<string>?>(Store, IndexKey, cancellationToken: ct) ?? [];
        if (index.Count == 0)
        {
            return [];
        }
        var items = await dapr.GetBulkStateAsync<ModelRecord?>(Store, index.Select(KeyOf).ToList(), parallelism: 4, cancellationToken: ct);
        return items.Where(i => i.Value is not null).Select(i => i.Value!).OrderBy(m => m.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Adds a version unless the job or upload <paramref name="origin"/> already added one (a retried step
    /// registers once); creates the model on its first version. Answers the version's number.</summary>
    public async Task<int> AddVersionAsync(string modelId, string task, string origin, Func<ModelRecord, ModelVersion> create, CancellationToken ct)
    {
        var number = await dapr.ChangeStateAsync<ModelRecord, int>(Store, KeyOf(modelId),
            () => new ModelRecord { Id = modelId, Task = task, CreatedAt = time.GetUtcNow() },
            model =>
            {
                if (model.Versions.FirstOrDefault(v => v.Lineage.JobId == origin) is { } existing)
                {
                    return (false, existing.Version);
                }
                var version = create(model);
                version.Version = model.Versions.Count == 0 ? 1 : model.Versions.Max(v => v.Version) + 1;
                version.CreatedAt = time.GetUtcNow();
                model.Versions.Add(version);
                return (true, version.Version);
            }, ct);
        await dapr.ChangeStateAsync<List<string>, bool>(Store, IndexKey, () => [],
            ids =>
            {
                if (ids.Contains(modelId))
                {
                    return (false, false);
                }
                ids.Add(modelId);
                return (true, true);
            }, ct);
        return number;
    }

    /// <summary>Applies a deployment change under the caller's ETag: one write, or Stale when the model changed since.</summary>
    public async Task<(DeployOutcome Outcome, ModelRecord? Model, string ETag, string? Problem)> DeployAsync(string modelId, string ifMatch, DeployChange change, CancellationToken ct)
    {
        var (model, etag) = await GetAsync(modelId, ct);
        if (model is null)
        {
            return (DeployOutcome.NotFound, null, "", null);
        }
        if (etag != ifMatch)
        {
            return (DeployOutcome.Stale, model, etag, null);
        }
        if (change.Apply(model, time.GetUtcNow()) is { } problem)
        {
            return (DeployOutcome.Invalid, model, etag, problem);
        }
        if (!await dapr.TrySaveStateAsync(Store, KeyOf(modelId), model, etag, cancellationToken: ct))
        {
            var (current, currentETag) = await GetAsync(modelId, ct);
            return (DeployOutcome.Stale, current, currentETag, null);
        }
        var (saved, savedETag) = await GetAsync(modelId, ct);
        return (DeployOutcome.Done, saved, savedETag, null);
    }
}
