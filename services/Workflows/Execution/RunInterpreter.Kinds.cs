using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Workflows.Execution;

/// <summary>The step kinds that wait, branch or fan out: delay, wait-for-event, condition, parallel, agent-task, sub-workflow.</summary>
internal sealed partial class RunInterpreter
{
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

    /// <summary>How deep sub-workflow runs may nest: a definition that calls itself (directly or through others)
    /// ends with a failed step here instead of starting runs without end.</summary>
    public const int MaxSubWorkflowDepth = 8;

    private async Task<JsonNode?> SubWorkflowAsync(StepDefinition step, IReadOnlyDictionary<string, JsonNode?> vars, StepRef at)
    {
        if (_start.Depth >= MaxSubWorkflowDepth)
        {
            throw new AttemptFailed($"sub-workflows nest at most {MaxSubWorkflowDepth} runs deep; this run is at depth {_start.Depth}");
        }
        var childId = $"{_start.RunId}-{new string(at.Path.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray())}-{at.Attempt}";
        if (childId.Length > 200)
        {
            // Instance ids stop at 256 characters: a deep path is named by its hash (the same on every replay).
            childId = $"sub-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(childId)))[..40].ToLowerInvariant()}";
        }
        var child = await GuardAsync(_context.CallActivityAsync<RunStart>(nameof(PrepareSubRunActivity),
            new SubRunCall(at, childId, step.Workflow!, step.Version, Expressions.Render(step.Input, vars)), Infrastructure), _compensating) with { Depth = _start.Depth + 1 };
        _children.Add(childId);
        var result = await GuardAsync(_context.CallChildWorkflowAsync<RunResult>(nameof(RunWorkflow), child, new ChildWorkflowTaskOptions(childId)), _compensating);
        _children.Remove(childId);
        return result.Status == RunStatus.Completed ? result.Output : throw new AttemptFailed($"sub-workflow run {childId} {result.Status}: {result.Error}");
    }
}
