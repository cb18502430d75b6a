namespace AgenticFlow.Coordination.Domain;

/// <summary>What the task-router model (neural) said about a task, looked up when the task is placed.</summary>
public interface ITaskRouterAdvice
{
    bool TryGet(string taskId, out string agentId, out double confidence);
}

/// <summary>
/// The <c>learned</c> strategy: the agent neural's task-router predicts for the task, when it is sure enough
/// (<paramref name="minConfidence"/>) and that agent may take the task now; otherwise the default strategy
/// (least-loaded) decides, so a team keeps working when neural is absent, unsure or names an agent that is busy.
/// </summary>
public sealed class LearnedStrategy(ITaskRouterAdvice? advice, double minConfidence = 0.5) : IDistributionStrategy
{
    private readonly LeastLoadedStrategy _fallback = new();

    public string Name => Strategies.Learned;

    public Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible)
    {
        if (advice is not null && advice.TryGet(task.TaskId, out var agentId, out var confidence) && confidence >= minConfidence
            && board.Member(agentId) is { } predicted && eligible(predicted))
        {
            return predicted;
        }
        return _fallback.Choose(board, task, eligible);
    }
}
