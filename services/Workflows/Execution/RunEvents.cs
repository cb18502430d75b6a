namespace AgenticFlow.Workflows.Execution;

/// <summary>Pub/sub topics of run events, for monitoring and for chaining workflows (event triggers may listen to them).</summary>
public static class RunEvents
{
    public const string RunStarted = "workflows.run-started";
    public const string StepCompleted = "workflows.step-completed";
    public const string RunCompleted = "workflows.run-completed";
    public const string RunFailed = "workflows.run-failed";
    public const string RunCancelled = "workflows.run-cancelled";

    public const string CoordinationTaskCompleted = "coordination.task-completed";
    public const string CoordinationTaskFailed = "coordination.task-failed";
}
