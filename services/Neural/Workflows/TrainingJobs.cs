using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticFlow.Neural.Apis;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Storage;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Workflows;

public enum JobStart { Accepted, Invalid, TaskConflict }

/// <summary>
/// Starts and cancels training jobs. A request is checked in full first (the data parsed and its schema inferred,
/// a named CSV artifact read): bad input is refused with nothing stored. Then the data is staged, the job recorded and
/// its workflow scheduled, and only then is the job acknowledged.
/// </summary>
public sealed partial class TrainingJobs(Datasets datasets, IArtifactStore artifacts, JobStore jobs, ModelRegistry registry,
    DaprWorkflowClient workflows, IOptions<NeuralOptions> options)
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    public static partial Regex ModelIdPattern();

    /// <summary>Names the API uses below /api/v1/models for other things.</summary>
    private static readonly string[] Reserved = ["train", "inference", "jobs"];

    public static string? CheckModelId(string? id) =>
        id is null || !ModelIdPattern().IsMatch(id) ? "modelId: 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        : Reserved.Contains(id) ? $"modelId '{id}' is reserved" : null;

    public async Task<(JobStart Result, TrainingJobRecord? Job, Dictionary<string, string[]> Errors)> StartAsync(TrainRequest request, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        void Fail(string field, string message) => errors[field] = [.. errors.GetValueOrDefault(field, []), message];
        if (CheckModelId(request.ModelId) is { } idProblem)
        {
            Fail("modelId", idProblem);
        }
        var task = request.Task ?? "";
        if (!ModelTasks.Trainable.Contains(task))
        {
            Fail("task", $"task is one of {string.Join(", ", ModelTasks.Trainable)}");
        }
        var trainer = request.Trainer ?? (ModelTrainer.Trainers.TryGetValue(task, out var known) ? known[0] : "");
        if (ModelTrainer.Trainers.TryGetValue(task, out var trainers) && !trainers.Contains(trainer))
        {
            Fail("trainer", $"trainers for {task}: {string.Join(", ", trainers)}");
        }
        var hyper = request.Hyperparameters ?? [];
        if (ModelTrainer.Hyperparameters.TryGetValue(trainer, out var allowed))
        {
            foreach (var (name, value) in hyper)
            {
                if (!allowed.TryGetValue(name, out var range))
                {
                    Fail("hyperparameters", $"{trainer} takes {string.Join(", ", allowed.Keys)}, not {name}");
                }
                else if (!double.IsFinite(value) || value < range.Min || value > range.Max)
                {
                    Fail("hyperparameters", $"{name} lies in [{range.Min}, {range.Max}]");
                }
            }
        }
        if (string.IsNullOrWhiteSpace(request.Label))
        {
            Fail("label", "label names the column to predict");
        }
        var split = request.Validation?.Split ?? ValidationPlan.Default.TestFraction;
        var folds = request.Validation?.Folds ?? 0;
        if (request.Validation is { Split: not null, Folds: not null })
        {
            Fail("validation", "either split or folds");
        }
        if (!(split is >= 0.05 and <= 0.5) || folds is < 0 or 1 or > 20)
        {
            Fail("validation", "split lies in [0.05, 0.5]; folds in [2, 20]");
        }
        if (errors.Count > 0)
        {
            return (JobStart.Invalid, null, errors);
        }

        var dataErrors = new List<string>();
        var (data, source, artifactKey) = await ReadDataAsync(request.Data, dataErrors, ct);
        var schema = data is null ? null : ModelSchema.Infer(data, task, request.Label!, request.Features, dataErrors);
        var plan = new ValidationPlan(split, folds);
        if (data is not null && schema is not null)
        {
            var testRows = folds > 1 ? data.Rows.Count / folds : (int)Math.Floor(data.Rows.Count * split);
            if (testRows < 1 || data.Rows.Count - testRows < 2)
            {
                dataErrors.Add($"{data.Rows.Count} rows are too few for {plan}");
            }
        }
        if (dataErrors.Count > 0 || schema is null || data is null)
        {
            errors["data"] = [.. dataErrors];
            return (JobStart.Invalid, null, errors);
        }
        var (existing, _) = await registry.GetAsync(request.ModelId!, ct);
        if (existing is not null && existing.Task != task)
        {
            errors["task"] = [$"model {request.ModelId} is a {existing.Task} model"];
            return (JobStart.TaskConflict, null, errors);
        }

        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var dataKey = artifactKey;
        if (dataKey is null)
        {
            dataKey = Datasets.StagedKey(jobId);
            await artifacts.PutAsync(dataKey, data.ToCsv(), ct);
        }
        var job = new TrainingJobRecord { Id = jobId, ModelId = request.ModelId!, Task = task, Trainer = trainer, DataSource = source };
        await jobs.CreateAsync(job, ct);
        var spec = new TrainingSpec(jobId, request.ModelId!, task, trainer, dataKey, source, request.Label!, request.Features, split, folds, hyper);
        try
        {
            await workflows.ScheduleNewWorkflowAsync(nameof(TrainingWorkflow), jobId, spec);
        }
        catch (Exception)
        {
            // Not acknowledged: the caller gets an error, and the job record says it never ran.
            await jobs.UpdateAsync(jobId, j => (j.Status, j.Error) = (JobStatus.Failed, "the training workflow could not be scheduled"), CancellationToken.None);
            throw;
        }
        return (JobStart.Accepted, job, errors);
    }

    private async Task<(Tabular? Data, string Source, string? ArtifactKey)> ReadDataAsync(JsonElement data, List<string> errors, CancellationToken ct)
    {
        var max = options.Value.MaxTrainingRows;
        switch (data.ValueKind)
        {
            case JsonValueKind.Array:
                var rows = Tabular.FromJsonRows(data, max, errors);
                return (errors.Count == 0 ? rows : null, "inline", null);
            case JsonValueKind.Object when data.TryGetProperty("csv", out var csv) && csv.ValueKind == JsonValueKind.String:
                var parsed = Tabular.FromCsv(csv.GetString()!, max, errors);
                return (errors.Count == 0 ? parsed : null, "inline-csv", null);
            case JsonValueKind.Object when data.TryGetProperty("artifact", out var artifact) && artifact.ValueKind == JsonValueKind.String:
                var key = artifact.GetString()!;
                if (key.Length is 0 or > 512 || key.Contains("..", StringComparison.Ordinal) || key.StartsWith('/') || key.StartsWith("models/", StringComparison.Ordinal) || key.StartsWith("staging/", StringComparison.Ordinal))
                {
                    errors.Add("artifact is the key of a CSV in the artifact bucket (not under models/ or staging/)");
                    return (null, "", null);
                }
                var (table, _) = await datasets.ReadAsync(key, errors, ct);
                return (table, "artifact:" + key, key);
            default:
                errors.Add("data is an array of row objects, {\"csv\": text} or {\"artifact\": key}");
                return (null, "", null);
        }
    }

    public async Task<TrainingJobRecord?> CancelAsync(string jobId, CancellationToken ct)
    {
        var job = await jobs.GetAsync(jobId, ct);
        if (job is null || JobStatus.IsFinal(job.Status))
        {
            return job;
        }
        await workflows.TerminateWorkflowAsync(jobId, "canceled", ct);
        return await jobs.UpdateAsync(jobId, j => (j.Status, j.Step) = (JobStatus.Canceled, null), ct);
    }
}
