using AgenticFlow.LocalRuntime.Errors;
using Dapr.DurableTask.Protobuf;
using static AgenticFlow.LocalRuntime.Workflows.WorkflowHistory;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>How a worker's answer to a step becomes history, effects on other instances and new work.</summary>
public sealed partial class WorkflowEngine
{
    private sealed class StepPlan
    {
        public List<HistoryEvent> Appended { get; } = [];
        public int ConsumedInbox { get; set; }
        public CompleteWorkflowAction? Completion { get; set; }
        public string? StalledReason { get; set; }
        public string? CustomStatus { get; set; }
        public List<HistoryEvent> Activities { get; } = [];
        public List<HistoryEvent> Timers { get; } = [];
        public List<HistoryEvent> ImmediateInbox { get; } = [];
        public List<Func<List<HistoryEvent>, Task>> Effects { get; } = [];
    }

    /// <summary>Turns a worker's actions into history events, effects on other instances, and work to dispatch.
    /// Reads the instance; changes nothing.</summary>
    private StepPlan Plan(StoredInstance s, List<HistoryEvent> stepEvents, int stepInboxCount, WorkflowResponse response)
    {
        var plan = new StepPlan { CustomStatus = response.CustomStatus };
        // A worker may report that it processed only the first events it was sent; the rest stay in the inbox.
        var processed = response.NumEventsProcessed is { } n && n >= 1 && n < stepEvents.Count ? n : stepEvents.Count;
        plan.Appended.AddRange(stepEvents.Take(processed));
        if (response.Version is { } version && plan.Appended.Count > 0 && plan.Appended[0].WorkflowStarted is not null)
        {
            // The SDK rebuilds IsPatched answers only from WorkflowStarted.Version in past events, so the patches a
            // turn reports are kept on that turn's WorkflowStarted; a copy, since the step's events may be handed out again.
            var started = plan.Appended[0].Clone();
            started.WorkflowStarted.Version = version.Clone();
            plan.Appended[0] = started;
        }
        plan.ConsumedInbox = Math.Min(stepInboxCount, processed - 1);
        var ownRouter = new TaskRouter { SourceAppID = _appId };
        foreach (var action in response.Actions.OrderBy(a => a.Id))
        {
            var router = action.Router ?? ownRouter;
            switch (action.WorkflowActionTypeCase)
            {
                case WorkflowAction.WorkflowActionTypeOneofCase.ScheduleTask:
                    PlanActivity(plan, action, router);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.CreateTimer:
                    PlanTimer(plan, action, router);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.CreateChildWorkflow:
                    PlanChild(plan, action, router, s);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.CreateDetachedWorkflow:
                    PlanDetached(plan, action, router);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.SendEvent:
                    PlanSendEvent(plan, action, router);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.TerminateWorkflow:
                    PlanTerminate(plan, action.TerminateWorkflow);
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.CompleteWorkflow:
                    plan.Completion = action.CompleteWorkflow;
                    if (action.CompleteWorkflow.WorkflowStatus == OrchestrationStatus.Stalled)
                    {
                        plan.StalledReason = action.CompleteWorkflow.Details ?? "stalled";
                    }
                    break;
                case WorkflowAction.WorkflowActionTypeOneofCase.WorkflowVersionNotAvailable:
                    plan.StalledReason = "the workflow version is not available in this app";
                    break;
            }
        }
        PlanReportToParent(plan, s);
        return plan;
    }

    /// <summary>The history event an action with an id becomes: its id as <c>EventId</c>, routed as the action says.</summary>
    private static HistoryEvent Event(WorkflowAction action, TaskRouter router, Action<HistoryEvent> fill) => New(e =>
    {
        e.EventId = action.Id;
        e.Router = router;
        fill(e);
    });

    /// <summary>True when the router sends the work to another app, which the local runtime does not do.</summary>
    private bool ElsewhereThan(TaskRouter? router) => !string.IsNullOrEmpty(router?.TargetAppID) && router.TargetAppID != _appId;

    /// <summary>An activity: recorded as scheduled and handed to a worker once committed (or failed at once when routed to another app).</summary>
    private void PlanActivity(StepPlan plan, WorkflowAction action, TaskRouter router)
    {
        var a = action.ScheduleTask;
        var scheduled = Event(action, router, e => e.TaskScheduled = new TaskScheduledEvent
        {
            Name = a.Name, Version = a.Version, Input = a.Input, TaskExecutionId = a.TaskExecutionId, HistoryPropagationScope = a.HistoryPropagationScope,
        });
        plan.Appended.Add(scheduled);
        if (ElsewhereThan(a.Router ?? action.Router))
        {
            plan.ImmediateInbox.Add(New(e => e.TaskFailed = new TaskFailedEvent
            {
                TaskScheduledId = action.Id, TaskExecutionId = a.TaskExecutionId,
                FailureDetails = NotRoutable("activity", a.Name, (a.Router ?? action.Router).TargetAppID),
            }));
        }
        else
        {
            plan.Activities.Add(scheduled);
        }
    }

    /// <summary>A durable timer: recorded as created and armed once committed.</summary>
    private static void PlanTimer(StepPlan plan, WorkflowAction action, TaskRouter router)
    {
        var a = action.CreateTimer;
        var created = Event(action, router, e =>
        {
            e.TimerCreated = new TimerCreatedEvent { FireAt = a.FireAt, Name = a.Name };
            switch (a.OriginCase)
            {
                case CreateTimerAction.OriginOneofCase.CreateTimer: e.TimerCreated.CreateTimer = a.CreateTimer; break;
                case CreateTimerAction.OriginOneofCase.ExternalEvent: e.TimerCreated.ExternalEvent = a.ExternalEvent; break;
                case CreateTimerAction.OriginOneofCase.ActivityRetry: e.TimerCreated.ActivityRetry = a.ActivityRetry; break;
                case CreateTimerAction.OriginOneofCase.ChildWorkflowRetry: e.TimerCreated.ChildWorkflowRetry = a.ChildWorkflowRetry; break;
            }
        });
        plan.Appended.Add(created);
        plan.Timers.Add(created);
    }

    /// <summary>A child workflow: started before the step is committed (idempotent by parent and task id); a start
    /// the runtime refuses comes back to the parent as the child's failure.</summary>
    private void PlanChild(StepPlan plan, WorkflowAction action, TaskRouter router, StoredInstance s)
    {
        var a = action.CreateChildWorkflow;
        var taskId = action.Id;
        plan.Appended.Add(Event(action, router, e => e.ChildWorkflowInstanceCreated = new ChildWorkflowInstanceCreatedEvent
        {
            InstanceId = a.InstanceId, Name = a.Name, Version = a.Version, Input = a.Input, HistoryPropagationScope = a.HistoryPropagationScope,
        }));
        var self = new WorkflowInstance { InstanceId = s.Metadata.InstanceId, ExecutionId = s.Metadata.ExecutionId };
        var parent = new ParentInstanceInfo { TaskScheduledId = taskId, Name = s.Metadata.Name, WorkflowInstance = self, AppID = _appId };
        if (ElsewhereThan(a.Router ?? action.Router))
        {
            plan.ImmediateInbox.Add(ChildFailed(taskId, NotRoutable("child workflow", a.Name, (a.Router ?? action.Router).TargetAppID)));
            return;
        }
        plan.Effects.Add(async own =>
        {
            try
            {
                WorkflowErrors.CheckInstanceId(a.InstanceId);
                await CreateAsync(a.InstanceId, a.Name, a.Version, a.Input, null, parent, null, null, _stop);
            }
            catch (DaprError ex)
            {
                // Refused (invalid id, an instance of that id runs): a permanent failure the parent sees.
                // Anything else (the store) escapes, so the step is not committed and runs again.
                own.Add(ChildFailed(taskId, new TaskFailureDetails { ErrorType = "ChildWorkflowStartFailed", ErrorMessage = ex.Message, IsNonRetriable = true }));
            }
        });
    }

    /// <summary>A detached workflow: started before the step is committed, with no tie to this one.</summary>
    private void PlanDetached(StepPlan plan, WorkflowAction action, TaskRouter router)
    {
        var a = action.CreateDetachedWorkflow;
        plan.Appended.Add(Event(action, router, e => e.DetachedWorkflowInstanceCreated = new DetachedWorkflowInstanceCreatedEvent { InstanceId = a.InstanceId }));
        plan.Effects.Add(_ => TryEffectAsync(() => CreateAsync(WorkflowErrors.CheckInstanceId(a.InstanceId), a.Name, a.Version, a.Input,
            a.ScheduledStartTimestamp, null, a.ParentTraceContext, a.Tags, _stop), "start detached workflow " + a.InstanceId));
    }

    /// <summary>An event for another instance: delivered before the step is committed (at least once).</summary>
    private void PlanSendEvent(StepPlan plan, WorkflowAction action, TaskRouter router)
    {
        var a = action.SendEvent;
        var target = a.Instance?.InstanceId ?? "";
        plan.Appended.Add(Event(action, router, e => e.EventSent = new EventSentEvent { InstanceId = target, Name = a.Name, Input = a.Data }));
        var raised = New(e => e.EventRaised = new EventRaisedEvent { Name = a.Name, Input = a.Data });
        plan.Effects.Add(_ => TryEffectAsync(() => DeliverAsync(target, "ERR_RAISE_EVENT_WORKFLOW", raised, null, _stop), $"send event {a.Name} to {target}"));
    }

    private void PlanTerminate(StepPlan plan, TerminateWorkflowAction a) =>
        plan.Effects.Add(_ => TryEffectAsync(() => TerminateAsync(a.InstanceId, a.Reason, a.Recurse, _stop), "terminate workflow " + a.InstanceId));

    /// <summary>A child that ends reports its result (or failure) to its parent before the step is committed.</summary>
    private void PlanReportToParent(StepPlan plan, StoredInstance s)
    {
        if (plan.Completion is { } done && IsTerminal(done.WorkflowStatus) && Parent(s) is { } parentInfo)
        {
            var report = done.WorkflowStatus == OrchestrationStatus.Completed
                ? New(e => e.ChildWorkflowInstanceCompleted = new ChildWorkflowInstanceCompletedEvent { TaskScheduledId = parentInfo.TaskScheduledId, Result = done.Result })
                : ChildFailed(parentInfo.TaskScheduledId, done.FailureDetails ?? new TaskFailureDetails { ErrorType = "WorkflowFailed", ErrorMessage = $"child workflow ended {StatusName(done.WorkflowStatus)}" });
            plan.Effects.Add(_ => TryEffectAsync(() => DeliverChildResultAsync(parentInfo, report, _stop), "report to parent " + parentInfo.WorkflowInstance?.InstanceId));
        }
    }

    private static TaskFailureDetails NotRoutable(string what, string name, string app) => new()
    {
        ErrorType = "AppNotReachable",
        ErrorMessage = $"{what} '{name}' targets app '{app}': the local runtime runs activities and child workflows only in the calling app",
        IsNonRetriable = true,
    };

    private static HistoryEvent ChildFailed(int taskId, TaskFailureDetails failure) =>
        New(e => e.ChildWorkflowInstanceFailed = new ChildWorkflowInstanceFailedEvent { TaskScheduledId = taskId, FailureDetails = failure });

    /// <summary>Applies a planned step to the instance in memory; the caller stores it.</summary>
    private void Apply(StoredInstance s, StepPlan plan, List<HistoryEvent> ownEvents)
    {
        var m = s.Metadata;
        var remaining = s.Inbox.Skip(plan.ConsumedInbox).ToList();
        m.CustomStatus = plan.CustomStatus;
        m.LastUpdatedTimestamp = Now();
        m.StartedAt ??= Now();
        if (m.WorkflowStatus == OrchestrationStatus.Pending)
        {
            m.WorkflowStatus = OrchestrationStatus.Running;
        }
        var completion = plan.Completion;
        if (completion?.WorkflowStatus == OrchestrationStatus.ContinuedAsNew)
        {
            // A new execution: fresh history, the new input, and (when asked) the events the old one left unread.
            var started = Started(s) ?? new ExecutionStartedEvent { Name = m.Name };
            m.ExecutionId = Guid.NewGuid().ToString("N");
            m.Input = completion.Result;
            m.Output = null;
            m.FailureDetails = null;
            var restart = New(e => e.ExecutionStarted = new ExecutionStartedEvent
            {
                Name = started.Name, Version = completion.NewVersion ?? started.Version, Input = completion.Result,
                WorkflowInstance = new WorkflowInstance { InstanceId = m.InstanceId, ExecutionId = m.ExecutionId },
                ParentInstance = started.ParentInstance, ParentTraceContext = started.ParentTraceContext,
            });
            restart.Router = new TaskRouter { SourceAppID = _appId };
            s.History = [];
            // Results of the old execution's tasks, timers and children must not reach the new one, whose ids start
            // at 0 again; only what was sent to the instance itself carries over.
            s.Inbox = [restart, .. completion.CarryoverEvents, .. remaining.Where(e => e.EventRaised is not null || e.ExecutionSuspended is not null || e.ExecutionResumed is not null)];
            return;
        }
        s.History.AddRange(plan.Appended);
        if (plan.StalledReason is { } reason)
        {
            s.History.Add(New(e => e.ExecutionStalled = new ExecutionStalledEvent { Reason = StalledReason.VersionNotAvailable, Description = reason }));
            m.WorkflowStatus = OrchestrationStatus.Stalled;
            s.Inbox = [.. remaining, .. plan.ImmediateInbox, .. ownEvents];
            return;
        }
        if (completion is not null && IsTerminal(completion.WorkflowStatus))
        {
            s.History.Add(New(e => e.ExecutionCompleted = new ExecutionCompletedEvent
            {
                WorkflowStatus = completion.WorkflowStatus, Result = completion.Result, FailureDetails = completion.FailureDetails,
            }));
            s.Inbox = [];
            Finish(m, completion.WorkflowStatus, completion.Result, completion.FailureDetails);
            return;
        }
        s.Inbox = [.. remaining, .. plan.ImmediateInbox, .. ownEvents];
    }

    private static void Finish(WorkflowState m, OrchestrationStatus status, string? output, TaskFailureDetails? failure)
    {
        m.WorkflowStatus = status;
        m.Output = output;
        m.FailureDetails = failure;
        m.CompletedTimestamp = Now();
        m.LastUpdatedTimestamp = m.CompletedTimestamp;
    }
}
