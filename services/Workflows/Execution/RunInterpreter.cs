using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Workflows.Execution;

/// <summary>
/// Walks one definition version inside <see cref="RunWorkflow"/>: steps in order, <c>when</c> guards, retries with
/// back-off on durable timers, per-attempt timeouts, parallel blocks joined by all/any/n-of-m, and the saga: when a
/// step fails for good or the run is cancelled (the <see cref="RunWorkflow.CancelEvent"/> event), the compensations of
/// the steps that completed (and of the failed step itself) run in reverse order. Orchestration code only: every
/// effect is an activity, a timer or an event.
/// </summary>
internal sealed partial class RunInterpreter
{
    private const int MaxParallelItems = 1_000;
    private static readonly WorkflowTaskOptions Infrastructure = new(new WorkflowRetryPolicy(5, TimeSpan.FromMilliseconds(500), 2, TimeSpan.FromSeconds(10)));

    private readonly WorkflowContext _context;
    private readonly RunStart _start;
    private readonly List<StepState> _states = [];
    private readonly List<string> _compensationErrors = [];
    private readonly Stack<(StepDefinition Step, string Path, RunScope Scope, StepState Original)> _compensations = new();
    private readonly Task<CancelSignal> _cancel;
    private readonly HashSet<string> _children = new(StringComparer.Ordinal);
    private bool _ending;
    private bool _compensating;

    public RunInterpreter(WorkflowContext context, RunStart start)
    {
        _context = context;
        _start = start;
        _cancel = context.WaitForExternalEventAsync<CancelSignal>(RunWorkflow.CancelEvent, CancellationToken.None);
    }

    private sealed class RunCancelled(string? reason) : Exception(reason ?? "cancelled");

    /// <summary>A step that failed for good (its retries used up); ends the block or run it is in.</summary>
    private sealed class StepFailed(string message) : Exception(message);

    /// <summary>One attempt failed (an error, a refusal, a timeout): retried while attempts remain.</summary>
    private sealed class AttemptFailed(string message) : Exception(message);

    /// <summary>The block or run this step belongs to has ended: the step does not start.</summary>
    private sealed class StepStopped() : Exception("stopped");

    private sealed class Block
    {
        public bool Stopped { get; set; }
    }

    public async Task<RunResult> RunAsync()
    {
        var root = RunScope.Root(_start.Input);
        string status;
        JsonNode? output = null;
        string? error = null;
        try
        {
            var last = await SequenceAsync(_start.Definition.Steps, root, "", null);
            output = _start.Definition.Output is { } template ? Expressions.Render(template, root.Variables) : last;
            status = RunStatus.Completed;
        }
        catch (RunCancelled cancelled)
        {
            status = RunStatus.Cancelled;
            error = "cancelled" + (cancelled.Message is { Length: > 0 } m && m != "cancelled" ? ": " + m : "");
            foreach (var child in _children.Order(StringComparer.Ordinal))
            {
                _context.SendEvent(child, RunWorkflow.CancelEvent, new CancelSignal("parent run cancelled"));
            }
        }
        catch (StepFailed failed)
        {
            status = RunStatus.Failed;
            error = failed.Message;
        }
        catch (ExpressionException ex)
        {
            status = RunStatus.Failed;
            error = "output: " + ex.Message;
        }
        _ending = true;
        if (status != RunStatus.Completed)
        {
            await CompensateAsync();
        }
        Progress();
        await _context.CallActivityAsync(nameof(FinishRunActivity),
            new FinishRun(_start with { Definition = new WorkflowDefinition() }, status, output, error, _states, _compensationErrors), Infrastructure);
        return new RunResult(status, output, error);
    }

    private async Task<JsonNode?> SequenceAsync(IReadOnlyList<StepDefinition> steps, RunScope scope, string prefix, Block? block)
    {
        JsonNode? last = null;
        foreach (var step in steps)
        {
            last = await StepAsync(step, scope, prefix, block);
        }
        return last;
    }

    private void Progress() => _context.SetCustomStatus(new RunProgress(_states, _compensationErrors));

    private DateTime Now => _context.CurrentUtcDateTime;

    private async Task<JsonNode?> StepAsync(StepDefinition step, RunScope scope, string prefix, Block? block, StepState? compensating = null)
    {
        if (compensating is null && (_ending || block?.Stopped == true))
        {
            throw new StepStopped();
        }
        var path = compensating is null ? prefix + step.Id : prefix;
        var state = new StepState { Path = path, Id = step.Id, Kind = step.Kind, StartedAt = Now };
        _states.Add(state);
        try
        {
            if (step.When is { } when && !Expressions.IsTrue(when, scope.Variables))
            {
                state.Status = StepStatus.Skipped;
                state.FinishedAt = Now;
                scope.Record(step.Id, StepStatus.Skipped, null, null);
                Progress();
                return null;
            }
        }
        catch (ExpressionException ex)
        {
            throw Fail(step, scope, state, "when: " + ex.Message, compensating);
        }
        var maxAttempts = Math.Max(1, step.Retry?.MaxAttempts ?? 1);
        for (var attempt = 1; ; attempt++)
        {
            state.Attempts = attempt;
            state.Status = StepStatus.Running;
            Progress();
            try
            {
                var output = await AttemptAsync(step, scope, path, attempt, state);
                state.Status = StepStatus.Completed;
                state.Output = output;
                state.Error = null;
                state.FinishedAt = Now;
                scope.Record(step.Id, StepStatus.Completed, output, null);
                if (compensating is null && step.Compensate is { } compensation)
                {
                    _compensations.Push((compensation, path, scope, state));
                }
                Progress();
                if (step.Kind is not (StepKinds.Llm or StepKinds.Invoke or StepKinds.Publish or StepKinds.AgentTask))
                {
                    // I/O steps announce themselves from their activity; the others are announced here.
                    await _context.CallActivityAsync(nameof(StepCompletedActivity), new StepEvent(Ref(step, path, attempt), output), Infrastructure);
                }
                return output;
            }
            catch (Exception ex) when (ex is AttemptFailed or StepFailed or WorkflowTaskFailedException or ExpressionException)
            {
                var message = ex is WorkflowTaskFailedException failed ? failed.FailureDetails?.ErrorMessage ?? ex.Message : ex.Message;
                state.Error = message;
                if (ex is ExpressionException || attempt >= maxAttempts || (_ending && compensating is null))
                {
                    throw Fail(step, scope, state, message, compensating);
                }
                var delay = Backoff(step.Retry!, attempt);
                state.Status = StepStatus.Waiting;
                Progress();
                if (delay > TimeSpan.Zero)
                {
                    await GuardAsync(_context.CreateTimer(delay, CancellationToken.None), compensating is not null);
                }
            }
        }
    }

    private StepFailed Fail(StepDefinition step, RunScope scope, StepState state, string message, StepState? compensating)
    {
        state.Status = StepStatus.Failed;
        state.Error = message;
        state.FinishedAt = Now;
        scope.Record(step.Id, StepStatus.Failed, null, message);
        // A step that failed after its attempts may have partly applied: its compensation runs first.
        if (compensating is null && step.Compensate is { } compensation && state.Attempts > 0)
        {
            _compensations.Push((compensation, state.Path, scope, state));
        }
        Progress();
        return new StepFailed($"step {state.Path} failed: {message}");
    }

    private static TimeSpan Backoff(RetryDefinition retry, int attempt)
    {
        var seconds = retry.BackoffSeconds * Math.Pow(Math.Max(1, retry.BackoffCoefficient), attempt - 1);
        return TimeSpan.FromSeconds(Math.Min(seconds, Math.Max(retry.MaxBackoffSeconds, retry.BackoffSeconds)));
    }

    private StepRef Ref(StepDefinition step, string path, int attempt) => new(_start.RunId, _start.DefinitionId, path, step.Id, step.Kind, attempt);

    /// <summary>One attempt, within the step's timeout (wait-for-event uses its timeout as the waiting time instead).</summary>
    private async Task<JsonNode?> AttemptAsync(StepDefinition step, RunScope scope, string path, int attempt, StepState state)
    {
        var work = KindAsync(step, scope, path, attempt, state);
        if (step.TimeoutSeconds is not { } seconds || step.Kind == StepKinds.WaitForEvent)
        {
            return await GuardAsync(work, _compensating);
        }
        using var stopTimer = new CancellationTokenSource();
        var timeout = _context.CreateTimer(TimeSpan.FromSeconds(seconds), stopTimer.Token);
        var winner = _compensating ? await Task.WhenAny(work, timeout) : await Task.WhenAny(work, timeout, _cancel);
        if (winner == work)
        {
            stopTimer.Cancel();
            return await work;
        }
        if (winner == _cancel)
        {
            stopTimer.Cancel();
            throw new RunCancelled(_cancel.Result?.Reason);
        }
        throw new AttemptFailed($"timed out after {seconds} s");
    }

    private async Task<T> GuardAsync<T>(Task<T> work, bool unguarded)
    {
        if (unguarded)
        {
            return await work;
        }
        if (await Task.WhenAny(work, _cancel) == _cancel)
        {
            throw new RunCancelled(_cancel.Result?.Reason);
        }
        return await work;
    }

    private async Task GuardAsync(Task work, bool unguarded)
    {
        if (!unguarded && await Task.WhenAny(work, _cancel) == _cancel)
        {
            throw new RunCancelled(_cancel.Result?.Reason);
        }
        await work;
    }

    private Task<JsonNode?> KindAsync(StepDefinition step, RunScope scope, string path, int attempt, StepState state)
    {
        var vars = scope.Variables;
        var at = Ref(step, path, attempt);
        return step.Kind switch
        {
            StepKinds.Llm => _context.CallActivityAsync<JsonNode?>(nameof(CallLlmActivity),
                new LlmCall(at, Expressions.RenderText(step.Prompt!, vars), step.System is null ? null : Expressions.RenderText(step.System, vars), step.Model)),
            StepKinds.Invoke => _context.CallActivityAsync<JsonNode?>(nameof(InvokeActivity),
                new InvokeCall(at, step.App!, step.Method!, (step.Verb ?? "POST").ToUpperInvariant(), Expressions.Render(step.Data, vars))),
            StepKinds.Publish => _context.CallActivityAsync<JsonNode?>(nameof(PublishActivity),
                new PublishCall(at, step.Pubsub ?? "", step.Topic!, Expressions.Render(step.Data, vars))),
            StepKinds.Delay => DelayAsync(step.Seconds ?? 0),
            StepKinds.WaitForEvent => WaitForEventAsync(step, state),
            StepKinds.Condition => ConditionAsync(step, scope, path),
            StepKinds.Parallel => ParallelAsync(step, scope, path),
            StepKinds.AgentTask => AgentTaskAsync(step, vars, at, state),
            StepKinds.SubWorkflow => SubWorkflowAsync(step, vars, at),
            _ => throw new ExpressionException($"unknown step kind {step.Kind}"),
        };
    }

    private async Task CompensateAsync()
    {
        _compensating = true;
        while (_compensations.TryPop(out var entry))
        {
            try
            {
                await StepAsync(entry.Step, entry.Scope, entry.Path + ".compensate", null, entry.Original);
                entry.Original.Status = entry.Original.Status == StepStatus.Completed ? StepStatus.Compensated : entry.Original.Status;
            }
            catch (StepFailed failed)
            {
                _compensationErrors.Add(failed.Message);
            }
        }
        Progress();
    }
}
