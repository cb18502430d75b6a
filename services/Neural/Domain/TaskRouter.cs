using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Neural.Domain;

/// <summary>A completed task as coordination reports it (the fields the task-router learns from).</summary>
public sealed record CompletedTask(string Id, string Description, IReadOnlyList<string> RequiredCapabilities, string AgentId,
    DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>Turns completed tasks into the task-router's training rows: task text and capabilities → the agent.</summary>
public static class TaskRouterData
{
    /// <summary>
    /// One row per completed task. When several agents completed tasks of the same text, the ones that finished
    /// faster than that text's median are the examples of "completed it best": slower completions are left out, so
    /// the model learns the quicker agent where there was a choice.
    /// </summary>
    public static List<Dictionary<string, string>> Rows(IEnumerable<CompletedTask> tasks)
    {
        var rows = new List<Dictionary<string, string>>();
        foreach (var group in tasks.Where(t => t.AgentId.Length > 0).GroupBy(t => TaskRouterContract.Text(t.Description, t.RequiredCapabilities)))
        {
            var timed = group.Where(t => t.StartedAt is not null && t.FinishedAt is not null).Select(t => (t.FinishedAt!.Value - t.StartedAt!.Value).TotalMilliseconds).OrderBy(d => d).ToList();
            var median = timed.Count > 0 ? timed[(timed.Count - 1) / 2] : double.PositiveInfinity;
            var several = group.Select(t => t.AgentId).Distinct().Count() > 1;
            foreach (var task in group)
            {
                var took = task.StartedAt is { } s && task.FinishedAt is { } f ? (f - s).TotalMilliseconds : double.NaN;
                if (several && !double.IsNaN(took) && took > median)
                {
                    continue;
                }
                rows.Add(new() { [TaskRouterContract.TextColumn] = group.Key, [TaskRouterContract.AgentColumn] = task.AgentId });
            }
        }
        return rows;
    }
}
