using System.Security.Cryptography;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using AgenticFlow.Neural.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Neural.Workflows;

/// <summary>Reads the job's data, checks it against the task and takes its fingerprint.</summary>
internal sealed class LoadDataActivity(Datasets datasets, JobStore jobs) : WorkflowActivity<TrainingSpec, DataSummary>
{
    public override async Task<DataSummary> RunAsync(WorkflowActivityContext context, TrainingSpec spec)
    {
        await jobs.UpdateAsync(spec.JobId, j => (j.Status, j.Step) = (JobStatus.Running, "load"), CancellationToken.None);
        var errors = new List<string>();
        var (data, fingerprint) = await datasets.ReadAsync(spec.DataKey, errors, CancellationToken.None);
        var schema = data is null ? null : ModelSchema.Infer(data, spec.Task, spec.Label, spec.Features, errors);
        if (schema is null)
        {
            throw new InvalidDataException(string.Join("; ", errors));
        }
        return new DataSummary(data!.Rows.Count, fingerprint, schema);
    }
}

/// <summary>Trains on the job's training rows and stages the model under a key named by the job.</summary>
internal sealed class TrainModelActivity(Datasets datasets, IArtifactStore artifacts, JobStore jobs) : WorkflowActivity<TrainStep, TrainedArtifact>
{
    public static string StagingKey(string jobId) => $"staging/{jobId}/model.zip";

    public override async Task<TrainedArtifact> RunAsync(WorkflowActivityContext context, TrainStep step)
    {
        var spec = step.Spec;
        await jobs.UpdateAsync(spec.JobId, j => (j.Step, j.TrainAttempts) = ("train", j.TrainAttempts + 1), CancellationToken.None);
        var data = await TrainingData.ReadAsync(datasets, spec.DataKey);
        // ML.NET trains synchronously: off the activity's thread, so the worker keeps answering the sidecar.
        var model = await Task.Run(() => ModelTrainer.Train(data, step.Data.Schema, spec.Trainer, spec.Hyperparameters, spec.Plan));
        await artifacts.PutAsync(StagingKey(spec.JobId), model, CancellationToken.None);
        return new TrainedArtifact(StagingKey(spec.JobId), Convert.ToHexStringLower(SHA256.HashData(model)), model.LongLength);
    }
}

/// <summary>Scores the staged model on the held-out rows (or cross-validates).</summary>
internal sealed class EvaluateModelActivity(Datasets datasets, IArtifactStore artifacts, JobStore jobs) : WorkflowActivity<EvaluateStep, Dictionary<string, double>>
{
    public override async Task<Dictionary<string, double>> RunAsync(WorkflowActivityContext context, EvaluateStep step)
    {
        var spec = step.Spec;
        await jobs.UpdateAsync(spec.JobId, j => j.Step = "evaluate", CancellationToken.None);
        var data = await TrainingData.ReadAsync(datasets, spec.DataKey);
        var model = await artifacts.GetAsync(step.Artifact.StagingKey, CancellationToken.None)
            ?? throw new InvalidOperationException($"staged model {step.Artifact.StagingKey} is missing");
        return await Task.Run(() => ModelTrainer.Evaluate(data, step.Data.Schema, spec.Trainer, spec.Hyperparameters, spec.Plan, model));
    }
}

/// <summary>Moves the staged model to its permanent key (checked against the hash taken when it was trained).</summary>
internal sealed class StoreArtifactActivity(IArtifactStore artifacts, JobStore jobs) : WorkflowActivity<StoreStep, string>
{
    public static string ArtifactKey(string modelId, string jobId) => $"models/{modelId}/versions/{jobId}.zip";

    public override async Task<string> RunAsync(WorkflowActivityContext context, StoreStep step)
    {
        await jobs.UpdateAsync(step.Spec.JobId, j => j.Step = "store", CancellationToken.None);
        var key = ArtifactKey(step.Spec.ModelId, step.Spec.JobId);
        var staged = await artifacts.GetAsync(step.Artifact.StagingKey, CancellationToken.None);
        if (staged is null)
        {
            // A run of this step that stored the model and removed the staged copy before the process died.
            var stored = await artifacts.GetAsync(key, CancellationToken.None);
            return stored is not null && Convert.ToHexStringLower(SHA256.HashData(stored)) == step.Artifact.Sha256
                ? key
                : throw new InvalidOperationException($"staged model {step.Artifact.StagingKey} is missing");
        }
        if (Convert.ToHexStringLower(SHA256.HashData(staged)) != step.Artifact.Sha256)
        {
            throw new InvalidDataException($"staged model {step.Artifact.StagingKey} does not match the trained model's hash");
        }
        await artifacts.PutAsync(key, staged, CancellationToken.None);
        await artifacts.DeleteAsync(step.Artifact.StagingKey, CancellationToken.None);
        return key;
    }
}

/// <summary>Adds the version to the registry (once per job) and completes the job.</summary>
internal sealed class RegisterVersionActivity(ModelRegistry registry, JobStore jobs, DeploymentCache deployments) : WorkflowActivity<RegisterStep, int>
{
    public override async Task<int> RunAsync(WorkflowActivityContext context, RegisterStep step)
    {
        var spec = step.Spec;
        await jobs.UpdateAsync(spec.JobId, j => j.Step = "register", CancellationToken.None);
        var version = await registry.AddVersionAsync(spec.ModelId, spec.Task, spec.JobId, model => new ModelVersion
        {
            Format = ArtifactFormats.MlNet,
            ArtifactKey = step.ArtifactKey,
            ArtifactSha256 = step.Artifact.Sha256,
            ArtifactBytes = step.Artifact.Bytes,
            Trainer = spec.Trainer,
            Schema = step.Data.Schema,
            Metrics = step.Metrics,
            Parameters = spec.Hyperparameters,
            Lineage = new Lineage(spec.JobId, spec.DataSource, step.Data.Fingerprint, step.Data.Rows, model.Deployment.Active, spec.Plan.ToString()),
        }, CancellationToken.None);
        await jobs.UpdateAsync(spec.JobId, j => (j.Status, j.Step, j.Version, j.Metrics) = (JobStatus.Completed, null, version, step.Metrics), CancellationToken.None);
        deployments.Invalidate(spec.ModelId);
        return version;
    }
}

internal sealed class RecordJobFailureActivity(JobStore jobs) : WorkflowActivity<JobFailure, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, JobFailure failure)
    {
        await jobs.UpdateAsync(failure.JobId, j => (j.Status, j.Error) = (JobStatus.Failed, failure.Reason), CancellationToken.None);
        return true;
    }
}

internal static class TrainingData
{
    public static async Task<Tabular> ReadAsync(Datasets datasets, string key)
    {
        var errors = new List<string>();
        var (data, _) = await datasets.ReadAsync(key, errors, CancellationToken.None);
        return data ?? throw new InvalidDataException(string.Join("; ", errors));
    }
}
