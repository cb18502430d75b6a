using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Domain;

/// <summary>Sends assigned tasks to their agents, several at a time, off the request path.</summary>
public sealed partial class TaskSender(TaskCoordinator coordinator, IOptions<CoordinationOptions> options, ILogger<TaskSender> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Parallel.ForEachAsync(coordinator.Outbox.ReadAllAsync(stoppingToken), new ParallelOptions
        {
            MaxDegreeOfParallelism = options.Value.DispatchConcurrency,
            CancellationToken = stoppingToken,
        }, async (task, ct) =>
        {
            try
            {
                await coordinator.DeliverAsync(task, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The task stays assigned; the sweep sends it again.
                LogFailed(ex, task.Id);
            }
        });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending task {TaskId} failed; the sweep sends it again")]
    private partial void LogFailed(Exception ex, string taskId);
}

/// <summary>Every <c>SweepSeconds</c>: missed deadlines and tasks that never reached their agent.</summary>
public sealed partial class TaskSweeper(TaskCoordinator coordinator, IOptions<CoordinationOptions> options, TimeProvider time, ILogger<TaskSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.SweepSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await coordinator.SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task sweep failed; trying again at the next tick")]
    private partial void LogFailed(Exception ex);
}
