using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Storage;

public static class JobStatus
{
    public const string Queued = "queued", Running = "running", Completed = "completed", Failed = "failed", Canceled = "canceled";

    public static bool IsFinal(string status) => status is Completed or Failed or Canceled;
}

/// <summary>A training job as its steps record it; <see cref="TrainAttempts"/> counts how often training started
/// (more than once when a crash made the workflow run the step again).</summary>
public sealed class TrainingJobRecord
{
    public string Id { get; set; } = "";
    public string ModelId { get; set; } = "";
    public string Task { get; set; } = "";
    public string Trainer { get; set; } = "";
    public string DataSource { get; set; } = "";
    public string Status { get; set; } = JobStatus.Queued;
    public string? Step { get; set; }
    public int TrainAttempts { get; set; }
    public int? Version { get; set; }
    public Dictionary<string, double>? Metrics { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class JobStore(DaprClient dapr, IOptions<NeuralOptions> options, TimeProvider time)
{
    private const string IndexKey = "neural-jobs";
    private const int IndexLimit = 1000;
    private string Store => options.Value.StateStore;

    private static string KeyOf(string jobId) => "neural-job:" + jobId;

    public async Task CreateAsync(TrainingJobRecord job, CancellationToken ct)
    {
        job.CreatedAt = job.UpdatedAt = time.GetUtcNow();
        await dapr.SaveStateAsync(Store, KeyOf(job.Id), job, cancellationToken: ct);
        await dapr.ChangeStateAsync<List<string>, bool>(Store, IndexKey, () => [], ids =>
        {
            ids.Add(job.Id);
            if (ids.Count > IndexLimit)
            {
                ids.RemoveRange(0, ids.Count - IndexLimit);
            }
            return (true, true);
        }, ct);
    }

    public Task<TrainingJobRecord?> GetAsync(string jobId, CancellationToken ct) =>
        dapr.GetStateAsync<TrainingJobRecord?>(Store, KeyOf(jobId), cancellationToken: ct);

    public async Task<IReadOnlyList<TrainingJobRecord>> ListAsync(string? modelId, CancellationToken ct)
    {
        var index = await dapr.GetStateAsync<List<string>?>(Store, IndexKey, cancellationToken: ct) ?? [];
        if (index.Count == 0)
        {
            return [];
        }
        var items = await dapr.GetBulkStateAsync<TrainingJobRecord?>(Store, index.Select(KeyOf).ToList(), parallelism: 4, cancellationToken: ct);
        return items.Select(i => i.Value).OfType<TrainingJobRecord>().Where(j => modelId is null || j.ModelId == modelId)
            .OrderByDescending(j => j.CreatedAt).ToList();
    }

    /// <summary>Changes a job unless it is already final (a canceled job's late step does not revive it).</summary>
    public Task<TrainingJobRecord?> UpdateAsync(string jobId, Action<TrainingJobRecord> change, CancellationToken ct, bool evenIfFinal = false) =>
        dapr.ChangeStateAsync<TrainingJobRecord, TrainingJobRecord?>(Store, KeyOf(jobId), () => new TrainingJobRecord { Id = jobId }, job =>
        {
            if (job.CreatedAt == default || (JobStatus.IsFinal(job.Status) && !evenIfFinal))
            {
                return (false, job.CreatedAt == default ? null : job);
            }
            change(job);
            job.UpdatedAt = time.GetUtcNow();
            return (true, job);
        }, ct);
}
