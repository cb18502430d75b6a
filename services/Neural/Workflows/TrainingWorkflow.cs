using AgenticFlow.Neural.Domain;
using Dapr.Workflow;

namespace AgenticFlow.Neural.Workflows;

/// <summary>What a training job was asked to do (the workflow's input: the data itself is staged as an artifact).</summary>
public sealed record TrainingSpec(string JobId, string ModelId, string Task, string Trainer, string DataKey, string DataSource, string Label,
    List<string>? Features, double TestFraction, int Folds, Dictionary<string, double> Hyperparameters)
{
    public ValidationPlan Plan => new(TestFraction, Folds);
}

public sealed record DataSummary(int Rows, string Fingerprint, ModelSchema Schema);

public sealed record TrainStep(TrainingSpec Spec, DataSummary Data);

public sealed record TrainedArtifact(string StagingKey, string Sha256, long Bytes);

public sealed record EvaluateStep(TrainingSpec Spec, DataSummary Data, TrainedArtifact Artifact);

public sealed record StoreStep(TrainingSpec Spec, TrainedArtifact Artifact);

public sealed record RegisterStep(TrainingSpec Spec, DataSummary Data, TrainedArtifact Artifact, string ArtifactKey, Dictionary<string, double> Metrics);

public sealed record JobFailure(string JobId, string Reason);

public sealed record TrainingResult(bool Succeeded, int? Version, string? Error);

/// <summary>
/// A training job: load the data, train, evaluate, store the artifact, register the version. Every step is an
/// activity whose result the workflow history keeps, so a service that dies mid-job resumes at the step it was in
/// (that step runs again: each is idempotent, writing to keys named by the job).
/// </summary>
public sealed class TrainingWorkflow : Workflow<TrainingSpec, TrainingResult>
{
    private static readonly WorkflowTaskOptions Retry = new(new WorkflowRetryPolicy(3, TimeSpan.FromMilliseconds(500), 2, TimeSpan.FromSeconds(5)));

    public override async Task<TrainingResult> RunAsync(WorkflowContext context, TrainingSpec spec)
    {
        try
        {
            var data = await context.CallActivityAsync<DataSummary>(nameof(LoadDataActivity), spec, Retry);
            var trained = await context.CallActivityAsync<TrainedArtifact>(nameof(TrainModelActivity), new TrainStep(spec, data), Retry);
            var metrics = await context.CallActivityAsync<Dictionary<string, double>>(nameof(EvaluateModelActivity), new EvaluateStep(spec, data, trained), Retry);
            var key = await context.CallActivityAsync<string>(nameof(StoreArtifactActivity), new StoreStep(spec, trained), Retry);
            var version = await context.CallActivityAsync<int>(nameof(RegisterVersionActivity), new RegisterStep(spec, data, trained, key, metrics), Retry);
            return new TrainingResult(true, version, null);
        }
        catch (WorkflowTaskFailedException ex)
        {
            var reason = ex.FailureDetails.ErrorMessage;
            await context.CallActivityAsync<bool>(nameof(RecordJobFailureActivity), new JobFailure(spec.JobId, reason), Retry);
            return new TrainingResult(false, null, reason);
        }
    }
}
