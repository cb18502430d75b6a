using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

public class LearnedStrategyTests
{
    private sealed class Advice(Dictionary<string, (string Agent, double Confidence)> answers) : ITaskRouterAdvice
    {
        public bool TryGet(string taskId, out string agentId, out double confidence)
        {
            var found = answers.TryGetValue(taskId, out var answer);
            (agentId, confidence) = found ? answer : ("", 0);
            return found;
        }
    }

    private static TeamBoard Team(params Member[] members) => new() { Id = "team", Name = "team", Strategy = Strategies.Learned, Members = [.. members] };

    private static readonly TaskNeeds Needs = new("team-1", [], null);

    [Fact]
    public void ConfidentAdvice_ChoosesThePredictedAgent_EvenWhenAnotherIsLessLoaded()
    {
        var busy = Board.Agent("busy");
        busy.Open.Add(new OpenTask { TaskId = "other" });
        var strategy = new LearnedStrategy(new Advice(new() { ["team-1"] = ("busy", 0.9) }), 0.5);
        Assert.Equal("busy", strategy.Choose(Team(Board.Agent("idle"), busy), Needs, _ => true)?.AgentId);
    }

    [Theory]
    [InlineData("busy", 0.3)]     // unsure
    [InlineData("stranger", 0.9)] // not a member
    public void UnsureOrImpossibleAdvice_FallsBackToLeastLoaded(string agent, double confidence)
    {
        var busy = Board.Agent("busy");
        busy.Open.Add(new OpenTask { TaskId = "other" });
        var strategy = new LearnedStrategy(new Advice(new() { ["team-1"] = (agent, confidence) }), 0.5);
        Assert.Equal("idle", strategy.Choose(Team(busy, Board.Agent("idle")), Needs, _ => true)?.AgentId);
    }

    [Fact]
    public void AdviceForAnAgentThatMayNotTakeTheTask_FallsBack()
    {
        var strategy = new LearnedStrategy(new Advice(new() { ["team-1"] = ("a", 0.99) }), 0.5);
        Assert.Equal("b", strategy.Choose(Team(Board.Agent("a"), Board.Agent("b")), Needs, m => m.AgentId != "a")?.AgentId);
    }

    [Fact]
    public void WithoutNeural_TheStrategyStillPlacesTasks()
    {
        var strategy = Strategies.For(Strategies.Learned);
        Assert.Equal(Strategies.Learned, strategy.Name);
        Assert.Equal("a", strategy.Choose(Team(Board.Agent("a"), Board.Agent("b")), Needs, _ => true)?.AgentId);
    }
}
