using System.Text.Json;
using AgenticFlow.Neural.Apis;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using AgenticFlow.Neural.Storage;
using AgenticFlow.Neural.Workflows;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.TaskRouting;

public enum RetrainStart { Started, TooFewTasks, Invalid }

/// <summary>
/// The platform's own model: retrains the task-router from coordination's completed tasks (a training job like any
/// other) and deploys the new version when it is the first, or scores at least as well as the active one (less 0.02
/// accuracy, the noise of a small holdout).
/// </summary>
public sealed partial class TaskRouterTraining(CoordinationTasks coordination, TrainingJobs training, JobStore jobs, ModelRegistry registry,
    DeploymentCache deployments, DaprClient dapr, IOptions<NeuralOptions> options, TimeProvider time, ILogger<TaskRouterTraining> logger)
{
    public async Task<(RetrainStart Result, string? JobId, string? Detail)> StartAsync(CancellationToken ct)
    {
        var tasks = await coordination.CompletedAsync(ct);
        var rows = TaskRouterData.Rows(tasks);
        var agents = rows.Select(r => r[TaskRouterContract.AgentColumn]).Distinct().Count();
        if (rows.Count < options.Value.TaskRouter.MinTasks || agents < 2)
        {
            return (RetrainStart.TooFewTasks, null, $"{rows.Count} usable completed tasks by {agents} agents; the task-router needs {options.Value.TaskRouter.MinTasks} by two or more");
        }
        var request = new TrainRequest(TaskRouterContract.ModelId, ModelTasks.TextClassification, null, JsonSerializer.SerializeToElement(rows),
            TaskRouterContract.AgentColumn, [TaskRouterContract.TextColumn], null, null);
        var (result, job, errors) = await training.StartAsync(request, ct);
        return result == JobStart.Accepted
            ? (RetrainStart.Started, job!.Id, null)
            : (RetrainStart.Invalid, null, string.Join("; ", errors.Values.SelectMany(v => v)));
    }

    /// <summary>Waits for the job and deploys its version if it is the first or no worse than the active one.</summary>
    public async Task DeployWhenDoneAsync(string jobId, CancellationToken ct)
    {
        TrainingJobRecord? job;
        while ((job = await jobs.GetAsync(jobId, ct)) is not null && !JobStatus.IsFinal(job.Status))
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
        }
        if (job is not { Status: JobStatus.Completed, Version: { } version })
        {
            LogNotDeployed(logger, jobId, job?.Status ?? "missing");
            return;
        }
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var (model, etag) = await registry.GetAsync(TaskRouterContract.ModelId, ct);
            if (model is null)
            {
                return;
            }
            if (model.Deployment.Active is { } active && model.Find(active) is { } current
                && current.Metrics.GetValueOrDefault("accuracy") - 0.02 > job.Metrics?.GetValueOrDefault("accuracy"))
            {
                LogKeptActive(logger, version, active);
                return;
            }
            var (outcome, saved, _, _) = await registry.DeployAsync(TaskRouterContract.ModelId, etag, new DeployChange(version, null, false, false), ct);
            if (outcome == DeployOutcome.Done)
            {
                deployments.Set(saved!);
                await dapr.TryPublishEventAsync(options.Value.PubSub, NeuralEvents.ModelDeployed, new ModelDeployedEvent(TaskRouterContract.ModelId, saved!.Deployment.Revision), logger, ct);
                LogDeployed(logger, version);
                return;
            }
            if (outcome != DeployOutcome.Stale)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "task-router version {Version} deployed")]
    private static partial void LogDeployed(ILogger logger, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "task-router version {Version} scored below active version {Active}: not deployed")]
    private static partial void LogKeptActive(ILogger logger, int version, int active);

    [LoggerMessage(Level = LogLevel.Warning, Message = "task-router job {JobId} ended {Status}: nothing deployed")]
    private static partial void LogNotDeployed(ILogger logger, string jobId, string status);
}

/// <summary>
/// Retrains the task-router on a timer in the service (every <see cref="TaskRouterOptions.RetrainSeconds"/>). With
/// several replicas, each period is claimed once through a first-write lease in the state store, so one replica
/// trains per period.
/// </summary>
public sealed partial class TaskRouterSchedule(TaskRouterTraining router, DaprClient dapr, IOptions<NeuralOptions> options, TimeProvider time,
    ILogger<TaskRouterSchedule> logger) : BackgroundService
{
    private const string LeaseKey = "neural-task-router-lease";

    private sealed class Lease
    {
        public long Period { get; set; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = options.Value.TaskRouter.RetrainSeconds;
        if (seconds == 0)
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var period = time.GetUtcNow().ToUnixTimeSeconds() / seconds;
                var mine = await dapr.ChangeStateAsync<Lease, bool>(options.Value.StateStore, LeaseKey, () => new Lease(),
                    lease =>
                    {
                        if (lease.Period >= period)
                        {
                            return (false, false);
                        }
                        lease.Period = period;
                        return (true, true);
                    }, stoppingToken);
                if (!mine)
                {
                    continue;
                }
                var (result, jobId, detail) = await router.StartAsync(stoppingToken);
                if (result == RetrainStart.Started)
                {
                    await router.DeployWhenDoneAsync(jobId!, stoppingToken);
                }
                else
                {
                    LogSkipped(logger, detail ?? result.ToString());
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "task-router retraining skipped: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "task-router retraining failed; the next period tries again")]
    private static partial void LogFailed(ILogger logger, Exception ex);
}
