namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// The task-router model shared by neural (which trains it from coordination's completed tasks) and coordination
/// (whose <c>learned</c> strategy asks it for an agent): its model id, and how a task becomes the one text feature the
/// model reads, so both sides featurise a task the same way.
/// </summary>
public static class TaskRouterContract
{
    public const string ModelId = "task-router";
    public const string TextColumn = "text", AgentColumn = "agent";

    /// <summary>The task's description followed by one token per required capability (<c>cap:review</c>).</summary>
    public static string Text(string? description, IEnumerable<string> capabilities) =>
        string.Join(' ', new[] { description ?? "" }.Concat(capabilities.Select(c => "cap:" + c))).Trim();
}
