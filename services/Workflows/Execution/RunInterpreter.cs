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
internal sealed class RunInterpreter
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

    private async Task<JsonNode?> DelayAsync(double seconds)
    {
        if (seconds > 0)
        {
            await GuardAsync(_context.CreateTimer(TimeSpan.FromSeconds(seconds), CancellationToken.None), _compensating);
        }
        return null;
    }

    /// <summary>Waits for the named event (an approval: <c>{approved, comment, …}</c>) up to the step's timeout; a
    /// timeout completes the step with <c>{approved: false, timedOut: true}</c>.</summary>
    private async Task<JsonNode?> WaitForEventAsync(StepDefinition step, StepState state)
    {
        state.Status = StepStatus.Waiting;
        Progress();
        var wait = step.TimeoutSeconds is { } seconds
            ? _context.WaitForExternalEventAsync<JsonNode?>(step.Event!, TimeSpan.FromSeconds(seconds))
            : _context.WaitForExternalEventAsync<JsonNode?>(step.Event!, CancellationToken.None);
        JsonNode? received;
        try
        {
            received = await GuardAsync(wait, _compensating);
        }
        catch (TaskCanceledException)
        {
            return new JsonObject { ["approved"] = false, ["timedOut"] = true };
        }
        var output = received is JsonObject obj ? (JsonObject)obj.DeepClone() : new JsonObject { ["data"] = received?.DeepClone() };
        output["timedOut"] = false;
        return output;
    }

    private async Task<JsonNode?> ConditionAsync(StepDefinition step, RunScope scope, string path)
    {
        var taken = Expressions.IsTrue(step.If!, scope.Variables);
        var steps = (taken ? step.Then : step.Else) ?? [];
        var last = await SequenceAsync(steps, scope, PrefixOf(path), null);
        return new JsonObject { ["branch"] = taken ? "then" : "else", ["output"] = last?.DeepClone() };
    }

    private static string PrefixOf(string path) => path.LastIndexOf('.') is var dot and >= 0 ? path[..(dot + 1)] : "";

    private async Task<JsonNode?> ParallelAsync(StepDefinition step, RunScope scope, string path)
    {
        var branches = new List<(RunScope Scope, IReadOnlyList<StepDefinition> Steps, string Prefix)>();
        if (step.Branches is { } fixedBranches)
        {
            branches.AddRange(fixedBranches.Select(b => (scope, (IReadOnlyList<StepDefinition>)b, PrefixOf(path))));
        }
        else
        {
            if (Expressions.Evaluate(step.ForEach!, scope.Variables) is not JsonArray items)
            {
                throw new AttemptFailed($"forEach '{step.ForEach}' is not a list");
            }
            if (items.Count > MaxParallelItems)
            {
                throw new AttemptFailed($"forEach gave {items.Count} items; at most {MaxParallelItems}");
            }
            for (var i = 0; i < items.Count; i++)
            {
                branches.Add((scope.ForItem(items[i], i), step.Steps!, $"{path}[{i}]."));
            }
        }
        var count = branches.Count;
        var need = step.Join switch { "any" => Math.Min(1, count), "n-of-m" => Math.Min(step.N ?? count, count), _ => count };
        var block = new Block();
        var results = new JsonNode?[count];
        var pending = new Dictionary<Task<(bool Ok, JsonNode? Output, string? Error)>, int>();
        for (var i = 0; i < count; i++)
        {
            pending[BranchAsync(branches[i].Steps, branches[i].Scope, branches[i].Prefix, block)] = i;
        }
        int ok = 0, failed = 0;
        string? firstError = null;
        while (ok < need && failed <= count - need && pending.Count > 0)
        {
            var done = await GuardAsync(Task.WhenAny(pending.Keys), _compensating);
            var index = pending[done];
            pending.Remove(done);
            var (succeeded, output, error) = await done;
            if (succeeded)
            {
                ok++;
                results[index] = output;
            }
            else
            {
                failed++;
                firstError ??= error;
            }
        }
        block.Stopped = true;
        if (ok < need)
        {
            throw new AttemptFailed($"{ok} of {count} branches completed, {need} needed: {firstError}");
        }
        return new JsonArray(results.Select(r => r?.DeepClone()).ToArray());
    }

    private async Task<(bool, JsonNode?, string?)> BranchAsync(IReadOnlyList<StepDefinition> steps, RunScope scope, string prefix, Block block)
    {
        try
        {
            return (true, await SequenceAsync(steps, scope, prefix, block), null);
        }
        catch (Exception ex) when (ex is StepFailed or StepStopped or RunCancelled)
        {
            return (false, null, ex.Message);
        }
    }

    private async Task<JsonNode?> AgentTaskAsync(StepDefinition step, IReadOnlyDictionary<string, JsonNode?> vars, StepRef at, StepState state)
    {
        var call = new AgentTaskCall(at, Expressions.RenderText(step.Team!, vars), Expressions.RenderText(step.Description!, vars), Expressions.Render(step.Input, vars),
            step.RequiredCapabilities, step.Priority, step.AffinityKey is null ? null : Expressions.RenderText(step.AffinityKey, vars));
        var task = await GuardAsync(_context.CallActivityAsync<SubmittedTask>(nameof(SubmitAgentTaskActivity), call, Infrastructure), _compensating);
        state.TaskId = task.TaskId;
        state.TeamId = task.TeamId;
        while (true)
        {
            var current = await GuardAsync(_context.CallActivityAsync<AgentTaskState>(nameof(CheckAgentTaskActivity), new AgentTaskLookup(at, task), Infrastructure), _compensating);
            switch (current.State)
            {
                case "completed":
                    return current.Output;
                case "failed":
                    throw new AttemptFailed($"task {task.TaskId} failed: {current.Error}");
            }
            state.Status = StepStatus.Waiting;
            Progress();
            // Woken by coordination's task event (through the subscription), or after the poll interval if it is lost.
            using var stop = new CancellationTokenSource();
            var signal = _context.WaitForExternalEventAsync<JsonNode?>(RunWorkflow.TaskEvent(task.TaskId), stop.Token);
            var poll = _context.CreateTimer(TimeSpan.FromSeconds(task.PollSeconds), stop.Token);
            var winner = _compensating ? await Task.WhenAny(signal, poll) : await Task.WhenAny(signal, poll, _cancel);
            stop.Cancel();
            if (winner == _cancel)
            {
                throw new RunCancelled(_cancel.Result?.Reason);
            }
        }
    }

    private async Task<JsonNode?> SubWorkflowAsync(StepDefinition step, IReadOnlyDictionary<string, JsonNode?> vars, StepRef at)
    {
        var childId = $"{_start.RunId}-{new string(at.Path.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray())}-{at.Attempt}";
        var child = await GuardAsync(_context.CallActivityAsync<RunStart>(nameof(PrepareSubRunActivity),
            new SubRunCall(at, childId, step.Workflow!, step.Version, Expressions.Render(step.Input, vars)), Infrastructure), _compensating);
        _children.Add(childId);
        var result = await GuardAsync(_context.CallChildWorkflowAsync<RunResult>(nameof(RunWorkflow), child, new ChildWorkflowTaskOptions(childId)), _compensating);
        _children.Remove(childId);
        return result.Status == RunStatus.Completed ? result.Output : throw new AttemptFailed($"sub-workflow run {childId} {result.Status}: {result.Error}");
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
