using System.Text.Json.Nodes;
using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Dapr.Client;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Execution;

/// <summary>Publishes <c>workflows.step-completed</c>: what it describes already happened, so a failed publish is logged, not retried.</summary>
public sealed class StepAnnouncer(DaprClient dapr, IOptions<WorkflowsOptions> options, TimeProvider time, ILogger<StepAnnouncer> logger)
{
    public Task AnnounceAsync(StepRef step, JsonNode? output) =>
        dapr.TryPublishEventAsync(options.Value.PubSub, RunEvents.StepCompleted, new
        {
            runId = step.RunId,
            definitionId = step.DefinitionId,
            stepId = step.StepId,
            path = step.Path,
            kind = step.Kind,
            attempt = step.Attempt,
            output,
            at = time.GetUtcNow(),
        }, logger);
}

internal sealed class CallLlmActivity(ServiceCalls calls, StepAnnouncer announcer) : WorkflowActivity<LlmCall, JsonNode?>
{
    public override async Task<JsonNode?> RunAsync(WorkflowActivityContext context, LlmCall call)
    {
        var text = await calls.CompleteAsync(call, CancellationToken.None);
        await announcer.AnnounceAsync(call.Step, text);
        return text;
    }
}

internal sealed class InvokeActivity(ServiceCalls calls, StepAnnouncer announcer) : WorkflowActivity<InvokeCall, JsonNode?>
{
    public override async Task<JsonNode?> RunAsync(WorkflowActivityContext context, InvokeCall call)
    {
        var answer = await calls.InvokeAsync(call, CancellationToken.None);
        await announcer.AnnounceAsync(call.Step, answer);
        return answer;
    }
}

internal sealed class PublishActivity(DaprClient dapr, IOptions<WorkflowsOptions> options, StepAnnouncer announcer) : WorkflowActivity<PublishCall, JsonNode?>
{
    public override async Task<JsonNode?> RunAsync(WorkflowActivityContext context, PublishCall call)
    {
        // The data as published is the step's output; published work must leave, so a failure fails the attempt.
        var data = call.Data ?? new JsonObject();
        // The CloudEvent id names the run and step, so a publish repeated after a crash reaches subscribers as the same event.
        await dapr.PublishEventAsync(call.Pubsub is { Length: > 0 } p ? p : options.Value.PubSub, call.Topic, data,
            new Dictionary<string, string> { ["cloudevent.id"] = $"{call.Step.RunId}:{call.Step.Path}" }, CancellationToken.None);
        await announcer.AnnounceAsync(call.Step, data);
        return data;
    }
}

internal sealed class StepCompletedActivity(StepAnnouncer announcer) : WorkflowActivity<StepEvent, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, StepEvent step)
    {
        await announcer.AnnounceAsync(step.Step, step.Output);
        return true;
    }
}

/// <summary>Submits an agent-task attempt's task to coordination once: the task id is kept under the attempt, so the
/// activity run again (after a crash) finds it instead of submitting twice, and the run is recorded as the task's waiter.</summary>
internal sealed class SubmitAgentTaskActivity(ServiceCalls calls, WorkflowStore store, IOptions<WorkflowsOptions> options) : WorkflowActivity<AgentTaskCall, SubmittedTask>
{
    public override async Task<SubmittedTask> RunAsync(WorkflowActivityContext context, AgentTaskCall call)
    {
        var key = $"{call.Step.RunId}:{call.Step.Path}:{call.Step.Attempt}";
        if (await store.GetSubmittedTaskAsync(key, CancellationToken.None) is { } known)
        {
            return known with { PollSeconds = options.Value.AgentTaskPollSeconds };
        }
        var (taskId, teamId) = await calls.SubmitTaskAsync(call, CancellationToken.None);
        var submitted = new SubmittedTask(taskId, teamId, options.Value.AgentTaskPollSeconds);
        await store.SaveTaskWaiterAsync(taskId, call.Step.RunId, CancellationToken.None);
        await store.SaveSubmittedTaskAsync(key, submitted, CancellationToken.None);
        return submitted;
    }
}

internal sealed class CheckAgentTaskActivity(ServiceCalls calls, StepAnnouncer announcer) : WorkflowActivity<AgentTaskLookup, AgentTaskState>
{
    public override async Task<AgentTaskState> RunAsync(WorkflowActivityContext context, AgentTaskLookup lookup)
    {
        var state = await calls.GetTaskAsync(lookup.Task.TeamId, lookup.Task.TaskId, CancellationToken.None);
        if (state.State == "completed")
        {
            await announcer.AnnounceAsync(lookup.Step, state.Output);
        }
        return state;
    }
}

/// <summary>Records a sub-workflow's run (once, by its id) and hands back its start, with the definition version read now.</summary>
internal sealed class PrepareSubRunActivity(RunLauncher launcher) : WorkflowActivity<SubRunCall, RunStart>
{
    public override async Task<RunStart> RunAsync(WorkflowActivityContext context, SubRunCall call)
    {
        var prepared = await launcher.PrepareAsync(call.Workflow, call.Version, call.Input, call.ChildRunId, "sub-workflow", call.Step.RunId, CancellationToken.None);
        return prepared.Start ?? throw new ServiceCallException(prepared.Problem ?? "sub-workflow cannot start");
    }
}

internal sealed class FinishRunActivity(WorkflowStore store, DaprClient dapr, IOptions<WorkflowsOptions> options, TimeProvider time, ILogger<FinishRunActivity> logger)
    : WorkflowActivity<FinishRun, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, FinishRun finish)
    {
        // Everything the record holds travels with the run, so the end is one write (no read first).
        var start = finish.Run;
        var run = new RunRecord
        {
            RunId = start.RunId, DefinitionId = start.DefinitionId, Version = start.Version, Input = start.Input, Trigger = start.Trigger, ParentRunId = start.ParentRunId,
            StartedAt = start.StartedAt == default ? time.GetUtcNow() : start.StartedAt,
            Status = finish.Status, Output = finish.Output, Error = finish.Error, FinishedAt = time.GetUtcNow(), Steps = finish.Steps,
        };
        var finishedAt = run.FinishedAt;
        await store.SaveRunAsync(run, CancellationToken.None);
        var topic = finish.Status switch
        {
            RunStatus.Completed => RunEvents.RunCompleted,
            RunStatus.Cancelled => RunEvents.RunCancelled,
            _ => RunEvents.RunFailed,
        };
        await dapr.TryPublishEventAsync(options.Value.PubSub, topic, new
        {
            runId = run.RunId,
            definitionId = run.DefinitionId,
            version = run.Version,
            status = run.Status,
            output = run.Output,
            error = run.Error,
            parentRunId = run.ParentRunId,
            compensationErrors = finish.CompensationErrors,
            startedAt = run.StartedAt,
            finishedAt,
        }, logger);
        return true;
    }
}
