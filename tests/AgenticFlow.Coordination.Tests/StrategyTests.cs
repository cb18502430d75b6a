using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

/// <summary>1,000 tasks through each strategy, with the distribution each one promises.</summary>
public sealed class StrategyTests
{
    [Fact]
    public async Task RoundRobin_1000Tasks_GiveEachOf10AgentsExactly100_InTurn()
    {
        var board = new Board(Strategies.RoundRobin, Board.Agents(10));
        var order = new List<string>();
        for (var i = 0; i < 1000; i++)
        {
            var (task, _) = await board.SubmitAsync();
            order.Add(task.AgentId!);
        }
        Assert.All(board.Team.Members, m => Assert.Equal(100, m.Load));
        Assert.Equal(board.Team.Members.Select(m => m.AgentId), order.Take(10));
        Assert.Equal(order.Take(10), order.Skip(10).Take(10));
    }

    [Fact]
    public async Task RoundRobin_SkipsAgentsWithoutCapacity_AndKeepsItsTurn()
    {
        var board = new Board(Strategies.RoundRobin, [Board.Agent("a", max: 1), Board.Agent("b", max: 10), Board.Agent("c", max: 10)]);
        var agents = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            agents.Add((await board.SubmitAsync()).Task.AgentId!);
        }
        Assert.Equal(["a", "b", "c", "b", "c", "b", "c"], agents);
    }

    [Fact]
    public async Task LeastLoaded_1000TasksWithRandomCompletions_NeverExceedsMaxConcurrency_AndAlwaysPicksALeastLoadedAgent()
    {
        var random = new Random(10);
        var maxes = new[] { 1, 2, 3, 5, 5, 8, 2, 4, 6, 3 };
        var board = new Board(Strategies.LeastLoaded, maxes.Select((max, i) => Board.Agent($"agent-{i}", max)));
        var open = new List<TaskRecord>();
        var submitted = 0;
        while (submitted < 1000 || open.Count > 0 || board.Team.Pending.Count > 0)
        {
            if (submitted < 1000 && random.Next(3) > 0)
            {
                var shares = board.Team.Members.ToDictionary(m => m.AgentId, m => (double)m.Load / m.MaxConcurrentTasks);
                var eligible = board.Team.Members.Where(m => m.HasCapacity).Select(m => shares[m.AgentId]).DefaultIfEmpty(double.NaN).Min();
                var (task, sent) = await board.SubmitAsync();
                submitted++;
                if (task.AgentId is { } agent && board.Team.Pending.Count == 0)
                {
                    // The new task went to an agent whose share in use was the lowest among those with room.
                    Assert.Equal(eligible, shares[agent]);
                }
                open.AddRange(sent);
            }
            else if (open.Count > 0)
            {
                var done = open[random.Next(open.Count)];
                open.Remove(done);
                Assert.Equal(ResultOutcome.Applied, await board.CompleteAsync(done.Id, done.AgentId!));
                open.AddRange(board.Tasks.Values.Where(t => t.State == TaskState.Assigned && !open.Contains(t)));
            }
            Assert.All(board.Team.Members, m => Assert.True(m.Load <= m.MaxConcurrentTasks, $"{m.AgentId} holds {m.Load} > {m.MaxConcurrentTasks}"));
        }
        Assert.Equal(1000, board.Team.Completed);
        Assert.All(board.Tasks.Values, t => Assert.Equal(TaskState.Completed, t.State));
    }

    [Fact]
    public async Task LeastLoaded_WhenEveryAgentIsFull_TasksWait_AndTakeTheFirstFreedSlot()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(10, max: 5));
        var tasks = new List<TaskRecord>();
        for (var i = 0; i < 60; i++)
        {
            tasks.Add((await board.SubmitAsync()).Task);
        }
        Assert.All(board.Team.Members, m => Assert.Equal(5, m.Load));
        Assert.Equal(10, board.Team.Pending.Count);
        Assert.Equal(10, tasks.Count(t => t.State == TaskState.Pending));
        var first = tasks[0];
        await board.CompleteAsync(first.Id, first.AgentId!);
        // The oldest waiting task took the freed slot.
        Assert.Equal(TaskState.Assigned, board.Tasks[tasks[50].Id].State);
        Assert.Equal(first.AgentId, board.Tasks[tasks[50].Id].AgentId);
        Assert.Equal(9, board.Team.Pending.Count);
    }

    [Fact]
    public async Task CapabilityMatch_1000Tasks_GoToTheMostProficientAgentWithRoom_AndOnlyToAgentsHoldingTheCapability()
    {
        var board = new Board(Strategies.CapabilityMatch,
        [
            Board.Agent("junior", 10, ("code", 0.5)),
            Board.Agent("senior", 10, ("code", 0.9), ("review", 0.6)),
            Board.Agent("mid", 10, ("code", 0.7)),
            Board.Agent("reviewer", 10, ("review", 0.95)),
        ]);
        // Completed at once: the most proficient coder always has room and takes every code task.
        for (var i = 0; i < 1000; i++)
        {
            var (task, _) = await board.SubmitAsync(capabilities: ["code"]);
            Assert.Equal("senior", task.AgentId);
            await board.CompleteAsync(task.Id, "senior");
        }
        // Left open: the slots fill in order of proficiency, and nobody without the capability is used.
        var placed = new List<string?>();
        for (var i = 0; i < 35; i++)
        {
            placed.Add((await board.SubmitAsync(capabilities: ["code"])).Task.AgentId);
        }
        Assert.Equal(Enumerable.Repeat("senior", 10).Concat(Enumerable.Repeat("mid", 10)).Concat(Enumerable.Repeat("junior", 10)), placed.Take(30));
        Assert.All(placed.Skip(30), a => Assert.Null(a));
        Assert.Equal(0, board.Load("reviewer"));
        Assert.Equal("reviewer", (await board.SubmitAsync(capabilities: ["review"])).Task.AgentId);
    }

    [Fact]
    public async Task ConsistentHash_1000Tasks_KeepEachKeyOnOneAgent_AndALeavingAgentMovesOnlyItsKeys()
    {
        var board = new Board(Strategies.ConsistentHash, Board.Agents(10));
        var keys = Enumerable.Range(0, 100).Select(i => $"customer-{i}").ToArray();
        var owner = new Dictionary<string, string>();
        for (var i = 0; i < 1000; i++)
        {
            var key = keys[i % keys.Length];
            var (task, _) = await board.SubmitAsync(affinityKey: key);
            Assert.Equal(owner.GetValueOrDefault(key, task.AgentId!), task.AgentId);
            owner[key] = task.AgentId!;
            await board.CompleteAsync(task.Id, task.AgentId!);
        }
        Assert.True(owner.Values.Distinct().Count() >= 8, "keys should spread over the agents");

        var leaving = owner.Values.GroupBy(a => a).OrderByDescending(g => g.Count()).First().Key;
        await board.ReleaseAgentAsync(leaving, remove: true);
        foreach (var key in keys)
        {
            var (task, _) = await board.SubmitAsync(affinityKey: key);
            if (owner[key] == leaving)
            {
                Assert.NotEqual(leaving, task.AgentId);
            }
            else
            {
                Assert.Equal(owner[key], task.AgentId);
            }
            await board.CompleteAsync(task.Id, task.AgentId!);
        }
    }

    [Fact]
    public async Task ConsistentHash_OwnerWithoutRoom_TheNextAgentClockwiseTakesTheTask()
    {
        var board = new Board(Strategies.ConsistentHash, Board.Agents(5, max: 1));
        var first = (await board.SubmitAsync(affinityKey: "k")).Task;
        var second = (await board.SubmitAsync(affinityKey: "k")).Task;
        var ring = new HashRing(board.Team.Members.Select(m => m.AgentId)).Walk("k").ToList();
        Assert.Equal(ring[0], first.AgentId);
        Assert.Equal(ring[1], second.AgentId);
    }

    [Fact]
    public async Task UnhealthyAgents_AreNeverChosen_ByAnyStrategy()
    {
        foreach (var strategy in Strategies.Names)
        {
            var board = new Board(strategy, Board.Agents(3));
            board.Team.Members[0].Healthy = false;
            for (var i = 0; i < 30; i++)
            {
                Assert.NotEqual("agent-01", (await board.SubmitAsync(affinityKey: $"k{i}")).Task.AgentId);
            }
        }
    }

    [Fact]
    public async Task HigherPriority_WaitingTasks_ArePlacedFirst()
    {
        var board = new Board(Strategies.LeastLoaded, [Board.Agent("only", max: 1)]);
        var running = (await board.SubmitAsync()).Task;
        var low = (await board.SubmitAsync(priority: TaskPriority.Low)).Task;
        var critical = (await board.SubmitAsync(priority: TaskPriority.Critical)).Task;
        await board.CompleteAsync(running.Id, "only");
        Assert.Equal(TaskState.Assigned, board.Tasks[critical.Id].State);
        Assert.Equal(TaskState.Pending, board.Tasks[low.Id].State);
    }
}
