using System.Text.Json.Nodes;
using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Execution;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using static AgenticFlow.Workflows.Apis.WorkflowProblems;

namespace AgenticFlow.Workflows.Apis;

/// <summary>Runs: execute a definition, read a run's status, cancel, suspend, resume, raise events, list a definition's runs.</summary>
public static class RunsApi
{
    public static RouteGroupBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/workflows").WithTags("Runs").RequirePlatformRole();
        api.MapPost("/{id}/execute", Execute).WithName("ExecuteWorkflow");
        api.MapGet("/{id}/runs", ListRuns).WithName("ListRuns");
        api.MapGet("/{runId}/status", Status).WithName("GetRunStatus");
        api.MapPut("/{runId}/cancel", Cancel).WithName("CancelRun");
        api.MapPut("/{runId}/suspend", Suspend).WithName("SuspendRun");
        api.MapPut("/{runId}/resume", Resume).WithName("ResumeRun");
        api.MapPost("/{runId}/events/{name}", RaiseEvent).WithName("RaiseRunEvent");
        return api;
    }

    public static async Task<Results<Accepted<RunAccepted>, ValidationProblem, ProblemHttpResult>> Execute(string id, ExecuteRequest? request, HttpRequest http,
        RunLauncher launcher, IOptions<WorkflowsOptions> options, CancellationToken ct)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Runs are started by admins, operators and services.");
        }
        // No body at all is a run without input of the latest version.
        request ??= new ExecuteRequest(null, null);
        if (request.Version is < 1)
        {
            return Invalid("version", "version is a positive integer");
        }
        if (request.Input is { } input && input.ToJsonString().Length > options.Value.MaxInputBytes)
        {
            return Invalid("input", $"input is at most {options.Value.MaxInputBytes} bytes");
        }
        var runId = "run-" + Guid.NewGuid().ToString("N");
        var launch = await launcher.StartAsync(id, request.Version, request.Input, runId, TriggerKinds.Manual, ct);
        return launch.Status switch
        {
            LaunchStatus.UnknownDefinition => Missing($"No workflow {id}."),
            LaunchStatus.UnknownVersion => Missing($"Workflow {id} has no version {request.Version}."),
            LaunchStatus.InvalidInput => Listed(InvalidInput, "Input does not match the workflow's inputs schema",
                launch.Problems!.Select(p => p with { Pointer = "/input" + p.Pointer }).ToList()),
            _ => TypedResults.Accepted($"/api/v1/workflows/{runId}/status", new RunAccepted(runId, id, launch.Version, RunStatus.Running)),
        };
    }

    public static async Task<Results<Ok<RunPage>, ValidationProblem, ProblemHttpResult>> ListRuns(string id, HttpRequest http, WorkflowStore store, CancellationToken ct,
        string? status = null, string? cursor = null, int limit = 50)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading runs needs a role.");
        }
        if (status is not null && status is not (RunStatus.Running or RunStatus.Suspended or RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled))
        {
            return Invalid("status", "status is running, suspended, completed, failed or cancelled");
        }
        if (limit is < 1 or > 500)
        {
            return Invalid("limit", "limit must be between 1 and 500");
        }
        if (cursor is not null && (cursor.Length is 0 or > 9 || !cursor.All(char.IsAsciiDigit)))
        {
            return Invalid("cursor", "cursor is the nextCursor of the previous page");
        }
        if (!DefinitionValidator.IsName(id) || await store.GetDefinitionAsync(id, ct) is null)
        {
            return Missing($"No workflow {id}.");
        }
        var (items, next) = await store.ListRunsAsync(id, status, cursor, limit, ct);
        return TypedResults.Ok(new RunPage(items.Select(RunSummary.Of).ToList(), next));
    }

    public static async Task<Results<Ok<RunView>, ProblemHttpResult>> Status(string runId, HttpRequest http, RunReader runs, CancellationToken ct)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading runs needs a role.");
        }
        return await runs.ReadAsync(runId, ct) is { } view ? TypedResults.Ok(view) : Missing($"No run {runId}.");
    }

    public static async Task<Results<Accepted<RunView>, ProblemHttpResult>> Cancel(string runId, HttpRequest http, RunReader runs, DaprWorkflowClient workflows,
        WorkflowStore store, TimeProvider time, CancellationToken ct, bool force = false)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Runs are cancelled by admins, operators and services.");
        }
        var reason = await ReadReasonAsync(http, ct);
        if (await runs.ReadAsync(runId, ct) is not { } view)
        {
            return Missing($"No run {runId}.");
        }
        if (RunStatus.IsTerminal(view.Status))
        {
            return Conflict(RunEnded, "Run has ended", $"Run {runId} is {view.Status}.");
        }
        if (force)
        {
            // No compensations: for a run that cannot take the cancel event (its worker is gone for good).
            await workflows.TerminateWorkflowAsync(runId, new RunResult(RunStatus.Cancelled, null, "terminated"), ct);
            var record = await store.GetRunAsync(runId, ct);
            if (record is not null)
            {
                record.Status = RunStatus.Cancelled;
                record.Error = "terminated without compensations";
                record.FinishedAt ??= time.GetUtcNow();
                await store.SaveRunAsync(record, ct);
            }
        }
        else
        {
            if (view.Status == RunStatus.Suspended)
            {
                await workflows.ResumeWorkflowAsync(runId, "resumed to cancel", ct);
            }
            await workflows.RaiseEventAsync(runId, RunWorkflow.CancelEvent, new CancelSignal(reason), ct);
        }
        return TypedResults.Accepted($"/api/v1/workflows/{runId}/status", await runs.ReadAsync(runId, ct) ?? view);
    }

    private static async Task<string?> ReadReasonAsync(HttpRequest http, CancellationToken ct)
    {
        if (http.ContentLength is 0 || !http.HasJsonContentType())
        {
            return null;
        }
        try
        {
            var body = await http.ReadFromJsonAsync<CancelRequest>(ct);
            return body?.Reason is { Length: <= 1000 } reason ? reason : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public static Task<Results<Accepted<RunView>, ProblemHttpResult>> Suspend(string runId, HttpRequest http, RunReader runs, DaprWorkflowClient workflows, WorkflowStore store, CancellationToken ct) =>
        ChangeAsync(runId, http, runs, store, RunStatus.Suspended, () => workflows.SuspendWorkflowAsync(runId, "suspended by an operator", ct), ct);

    public static Task<Results<Accepted<RunView>, ProblemHttpResult>> Resume(string runId, HttpRequest http, RunReader runs, DaprWorkflowClient workflows, WorkflowStore store, CancellationToken ct) =>
        ChangeAsync(runId, http, runs, store, RunStatus.Running, () => workflows.ResumeWorkflowAsync(runId, "resumed by an operator", ct), ct);

    private static async Task<Results<Accepted<RunView>, ProblemHttpResult>> ChangeAsync(string runId, HttpRequest http, RunReader runs, WorkflowStore store, string status,
        Func<Task> change, CancellationToken ct)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Runs are suspended and resumed by admins, operators and services.");
        }
        if (await runs.ReadAsync(runId, ct) is not { } view)
        {
            return Missing($"No run {runId}.");
        }
        if (RunStatus.IsTerminal(view.Status))
        {
            return Conflict(RunEnded, "Run has ended", $"Run {runId} is {view.Status}.");
        }
        await change();
        await store.ChangeRunStatusAsync(runId, status, ct);
        return TypedResults.Accepted($"/api/v1/workflows/{runId}/status", await runs.ReadAsync(runId, ct) ?? view);
    }

    /// <summary>Raises a named event on a run (an approval: <c>{approved, comment}</c>). Admins, operators and services; an agent
    /// only on a run it takes part in (one of its agent-task steps went to that agent).</summary>
    public static async Task<Results<Accepted<RunAccepted>, ValidationProblem, ProblemHttpResult>> RaiseEvent(string runId, string name, HttpRequest http,
        RunReader runs, ServiceCalls calls, DaprWorkflowClient workflows, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!caller.Privileged && caller.RestrictedToAgent is null)
        {
            return Refused("Events are raised by admins, operators, services and the run's agents.");
        }
        if (!DefinitionValidator.IsName(name))
        {
            return Invalid("name", "an event name holds letters, digits, '.', '_' and '-' (at most 128)");
        }
        JsonNode? data = null;
        if (http.ContentLength is not 0)
        {
            try
            {
                data = await http.ReadFromJsonAsync<JsonNode?>(ct);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                return Invalid("body", "the event's data is JSON (application/json)");
            }
        }
        if (await runs.ReadAsync(runId, ct) is not { } view)
        {
            return Missing($"No run {runId}.");
        }
        if (caller.RestrictedToAgent is { } agent && !await TakesPartAsync(view, agent, calls, ct))
        {
            return Refused($"Agent {agent} takes no part in run {runId}.");
        }
        if (RunStatus.IsTerminal(view.Status))
        {
            return Conflict(RunEnded, "Run has ended", $"Run {runId} is {view.Status}.");
        }
        await workflows.RaiseEventAsync(runId, name, data, ct);
        return TypedResults.Accepted($"/api/v1/workflows/{runId}/status", new RunAccepted(runId, view.WorkflowId, view.Version, view.Status));
    }

    private static async Task<bool> TakesPartAsync(RunView run, string agentId, ServiceCalls calls, CancellationToken ct)
    {
        foreach (var step in run.Steps.Where(s => s.Kind == StepKinds.AgentTask && s.TaskId is not null))
        {
            try
            {
                if ((await calls.GetTaskAsync(step.TeamId ?? "", step.TaskId!, ct)).AgentId == agentId)
                {
                    return true;
                }
            }
            catch (ServiceCallException)
            {
                // A task coordination no longer knows gives no one a part.
            }
        }
        return false;
    }
}
