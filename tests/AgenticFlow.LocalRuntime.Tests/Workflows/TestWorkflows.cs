using Dapr.Workflow;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>The workflows and activities the tests drive; activities record their runs in an <see cref="ActivityLog"/>.</summary>
public static class TestWorkflows
{
    public sealed record Keyed(string Key, string Value);

    public static void Register(WorkflowRuntimeOptions o, ActivityLog log)
    {
        // ---- activities ----
        o.RegisterActivity<Keyed, string>("Append", (_, input) =>
        {
            log.Run(input.Key);
            return Task.FromResult(input.Value);
        });
        o.RegisterActivity<int, int>("Square", (_, n) =>
        {
            log.Run("square-" + n);
            return Task.FromResult(n * n);
        });
        o.RegisterActivity<string, string>("Flaky", (_, key) =>
        {
            var attempt = log.Run(key);
            return attempt < 3 ? throw new InvalidOperationException($"attempt {attempt} fails") : Task.FromResult($"ok after {attempt}");
        });
        // Runs, then waits while the test holds its gate closed.
        o.RegisterActivity<string, string>("Gated", async (_, key) =>
        {
            log.Run(key);
            if (log.Gates.TryGetValue(key, out var gate))
            {
                await gate.Task;
            }
            return key;
        });

        // ---- workflows ----
        o.RegisterWorkflow<string, string>("Chain", async (ctx, prefix) =>
        {
            var result = "";
            foreach (var part in new[] { "a", "b", "c" })
            {
                result += await ctx.CallActivityAsync<string>("Append", new Keyed($"{prefix}-{part}", part));
            }
            return result;
        });
        o.RegisterWorkflow<int, int>("FanOut", async (ctx, count) =>
        {
            var squares = await Task.WhenAll(Enumerable.Range(0, count).Select(i => ctx.CallActivityAsync<int>("Square", i)));
            return squares.Sum();
        });
        o.RegisterWorkflow<string, string>("Retry", (ctx, key) => ctx.CallActivityAsync<string>("Flaky", key,
            new WorkflowTaskOptions(new WorkflowRetryPolicy(maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromMilliseconds(100), backoffCoefficient: 2))));
        o.RegisterWorkflow<int, bool>("Timer", async (ctx, milliseconds) =>
        {
            var fireAt = ctx.CurrentUtcDateTime.AddMilliseconds(milliseconds);
            await ctx.CreateTimer(fireAt, CancellationToken.None);
            return ctx.CurrentUtcDateTime >= fireAt;
        });
        // A negative timeout waits forever: the SDK adds a timer at 9999-12-31 that must never fire.
        o.RegisterWorkflow<string, string>("AwaitEvent", (ctx, name) => ctx.WaitForExternalEventAsync<string>(name, Timeout.InfiniteTimeSpan));
        o.RegisterWorkflow<int, string>("AwaitEventWithTimeout", async (ctx, milliseconds) =>
        {
            try
            {
                return await ctx.WaitForExternalEventAsync<string>("approval", TimeSpan.FromMilliseconds(milliseconds));
            }
            catch (TaskCanceledException)
            {
                return "timed out";
            }
        });
        o.RegisterWorkflow<string, string>("Parent", async (ctx, prefix) =>
        {
            var child = await ctx.CallChildWorkflowAsync<string>("Chain", prefix, new ChildWorkflowTaskOptions(InstanceId: ctx.InstanceId + "-child"));
            return "parent:" + child;
        });
        o.RegisterWorkflow<string, string>("ParentOfWaiter", (ctx, name) =>
            ctx.CallChildWorkflowAsync<string>("AwaitEvent", name, new ChildWorkflowTaskOptions(InstanceId: ctx.InstanceId + "-child")));
        // Takes one "add" event per execution and continues as new; events it did not read are carried over.
        o.RegisterWorkflow<int[], int>("Accumulate", async (ctx, state) =>
        {
            var (total, seen) = (state[0], state[1]);
            total += await ctx.WaitForExternalEventAsync<int>("add");
            if (seen + 1 < 3)
            {
                ctx.ContinueAsNew(new[] { total, seen + 1 });
                return 0;
            }
            return total;
        });
        // Asks for a patch in its first turn, and again in the next, where that first part is replayed.
        o.RegisterWorkflow<string, string>("Patched", async (ctx, key) =>
        {
            var first = ctx.IsPatched("x");
            await ctx.CallActivityAsync<string>("Append", new Keyed(key, "v"));
            var replayed = ctx.IsPatched("x");
            return $"{first}/{replayed}";
        });
        o.RegisterWorkflow<string, string>("Gates", async (ctx, key) =>
        {
            var first = await ctx.CallActivityAsync<string>("Gated", key + "-1");
            var second = await ctx.CallActivityAsync<string>("Gated", key + "-2");
            var third = await ctx.CallActivityAsync<string>("Gated", key + "-3");
            return string.Join(",", first, second, third);
        });
    }
}
