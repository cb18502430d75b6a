using Dapr.DurableTask.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>Reading a stored instance's events: what is pending, what already has a result, who the parent is.
/// Pending work is derived from history and inbox rather than stored apart, see <see cref="WorkflowStore"/>.</summary>
public static class WorkflowHistory
{
    /// <summary>Timers at or beyond this never fire: the SDK waits for an external event without a timeout with a
    /// timer at 9999-12-31, and a backend must accept it and leave it be.</summary>
    public static readonly DateTime NeverFires = new(9000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static Timestamp Now() => Timestamp.FromDateTime(DateTime.UtcNow);

    public static HistoryEvent New(Action<HistoryEvent> fill)
    {
        var e = new HistoryEvent { EventId = -1, Timestamp = Now() };
        fill(e);
        return e;
    }

    public static bool IsTerminal(OrchestrationStatus status) =>
        status is OrchestrationStatus.Completed or OrchestrationStatus.Failed or OrchestrationStatus.Terminated or OrchestrationStatus.Canceled;

    private static IEnumerable<HistoryEvent> All(StoredInstance s) => s.History.Concat(s.Inbox);

    /// <summary>True when an activity result for <paramref name="taskId"/> is in history or inbox.</summary>
    public static bool HasTaskResult(StoredInstance s, int taskId) =>
        All(s).Any(e => e.TaskCompleted?.TaskScheduledId == taskId || e.TaskFailed?.TaskScheduledId == taskId);

    public static bool HasChildResult(StoredInstance s, int taskId) =>
        All(s).Any(e => e.ChildWorkflowInstanceCompleted?.TaskScheduledId == taskId || e.ChildWorkflowInstanceFailed?.TaskScheduledId == taskId);

    public static bool HasTimerFired(StoredInstance s, int timerId) => All(s).Any(e => e.TimerFired?.TimerId == timerId);

    public static bool IsScheduledTask(StoredInstance s, int taskId) => s.History.Any(e => e.EventId == taskId && e.TaskScheduled is not null);

    /// <summary>Scheduled activities of the current execution without a result: what recovery dispatches again.</summary>
    public static IEnumerable<HistoryEvent> PendingActivities(StoredInstance s) =>
        s.History.Where(e => e.TaskScheduled is not null && !HasTaskResult(s, e.EventId));

    public static IEnumerable<HistoryEvent> PendingTimers(StoredInstance s) =>
        s.History.Where(e => e.TimerCreated is not null && !HasTimerFired(s, e.EventId));

    /// <summary>Child workflows started by this execution whose result has not arrived.</summary>
    public static IEnumerable<string> RunningChildren(StoredInstance s) =>
        s.History.Where(e => e.ChildWorkflowInstanceCreated is not null && !HasChildResult(s, e.EventId))
            .Select(e => e.ChildWorkflowInstanceCreated.InstanceId);

    /// <summary>Every child workflow this instance ever started (for a recursive purge).</summary>
    public static IEnumerable<string> AllChildren(StoredInstance s) =>
        s.History.Where(e => e.ChildWorkflowInstanceCreated is not null).Select(e => e.ChildWorkflowInstanceCreated.InstanceId).Distinct();

    public static ExecutionStartedEvent? Started(StoredInstance s) => All(s).FirstOrDefault(e => e.ExecutionStarted is not null)?.ExecutionStarted;

    public static ParentInstanceInfo? Parent(StoredInstance s) => Started(s)?.ParentInstance;
}
