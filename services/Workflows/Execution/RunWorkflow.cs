using Dapr.Workflow;

namespace AgenticFlow.Workflows.Execution;

/// <summary>
/// Every run: one generic Dapr workflow that interprets the definition version it was started with
/// (<see cref="RunInterpreter"/>). Deterministic: expressions are pure, time is the context's, and all I/O happens in
/// activities, so a replay after a crash takes the same path and no completed step runs again.
/// </summary>
public sealed class RunWorkflow : Workflow<RunStart, RunResult>
{
    public const string CancelEvent = "__cancel";

    public static string TaskEvent(string taskId) => "task." + taskId;

    public override Task<RunResult> RunAsync(WorkflowContext context, RunStart start) => new RunInterpreter(context, start).RunAsync();
}
