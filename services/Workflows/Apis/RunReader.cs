using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Execution;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Workflows.Apis;

/// <summary>A run's status: the stored record once it ended (with every step's final state), the Dapr workflow's
/// state and custom status (the interpreter's step states) while it runs.</summary>
public sealed class RunReader(WorkflowStore store, DaprWorkflowClient workflows)
{
    public async Task<RunView?> ReadAsync(string runId, CancellationToken ct)
    {
        if (!DefinitionValidator.IsRunId(runId) || await store.GetRunAsync(runId, ct) is not { } run)
        {
            return null;
        }
        if (RunStatus.IsTerminal(run.Status) && run.Steps is not null)
        {
            return View(run, run.Status, run.Steps, []);
        }
        var state = await workflows.GetWorkflowStateAsync(runId, false, ct);
        if (!state.Exists)
        {
            return View(run, run.Status, run.Steps ?? [], []);
        }
        var progress = TryRead(state);
        var status = state.RuntimeStatus switch
        {
            WorkflowRuntimeStatus.Suspended => RunStatus.Suspended,
            WorkflowRuntimeStatus.Terminated => RunStatus.Cancelled,
            WorkflowRuntimeStatus.Failed => RunStatus.Failed,
            _ when RunStatus.IsTerminal(run.Status) => run.Status,
            _ => RunStatus.Running,
        };
        if (state.RuntimeStatus == WorkflowRuntimeStatus.Failed && run.Error is null)
        {
            run.Error = state.FailureDetails?.ErrorMessage;
        }
        return View(run, status, progress?.Steps ?? run.Steps ?? [], progress?.CompensationErrors ?? []);
    }

    private static RunProgress? TryRead(WorkflowState state)
    {
        try
        {
            return state.ReadCustomStatusAs<RunProgress?>();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static RunView View(RunRecord run, string status, IReadOnlyList<StepState> steps, IReadOnlyList<string> compensationErrors) =>
        new(run.RunId, run.DefinitionId, run.Version, status, run.Trigger, run.ParentRunId, run.Input, run.Output, run.Error, run.StartedAt, run.FinishedAt, steps, compensationErrors);
}
