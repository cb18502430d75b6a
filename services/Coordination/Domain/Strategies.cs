namespace AgenticFlow.Coordination.Domain;

/// <summary>What a strategy needs to know about the task it places.</summary>
public sealed record TaskNeeds(string TaskId, IReadOnlyList<string> RequiredCapabilities, string? AffinityKey);

/// <summary>
/// Chooses the agent for a task among a team's members. <c>eligible</c> says which members may take it now
/// (healthy, holding the capabilities, below their maximum concurrency): a strategy never picks any other, so no
/// strategy puts an agent above its maximum. Null when nobody can take it: the task waits.
/// </summary>
public interface IDistributionStrategy
{
    string Name { get; }

    Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible);
}

public static class Strategies
{
    public const string LeastLoaded = "least-loaded", RoundRobin = "round-robin", CapabilityMatch = "capability-match", ConsistentHash = "consistent-hash";

    /// <summary>Neural's task-router model chooses (see <see cref="LearnedStrategy"/>).</summary>
    public const string Learned = "learned";

    public static readonly IReadOnlyList<string> Names = [LeastLoaded, RoundRobin, CapabilityMatch, ConsistentHash, Learned];

    public static IDistributionStrategy For(string name, ITaskRouterAdvice? advice = null, double minConfidence = 0.5) => name switch
    {
        RoundRobin => new RoundRobinStrategy(),
        CapabilityMatch => new CapabilityMatchStrategy(),
        ConsistentHash => new ConsistentHashStrategy(),
        Learned => new LearnedStrategy(advice, minConfidence),
        _ => new LeastLoadedStrategy(),
    };
}

/// <summary>The eligible member with the lowest share of its capacity in use; ties go to fewer open tasks, then team order.</summary>
public sealed class LeastLoadedStrategy : IDistributionStrategy
{
    public string Name => Strategies.LeastLoaded;

    public Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible)
    {
        Member? best = null;
        foreach (var member in board.Members)
        {
            if (!eligible(member))
            {
                continue;
            }
            if (best is null || Compare(member, best) < 0)
            {
                best = member;
            }
        }
        return best;
    }

    private static int Compare(Member a, Member b)
    {
        // a.Load / a.Max < b.Load / b.Max, in integers so equal shares compare equal.
        var share = ((long)a.Load * b.MaxConcurrentTasks).CompareTo((long)b.Load * a.MaxConcurrentTasks);
        return share != 0 ? share : a.Load.CompareTo(b.Load);
    }
}

/// <summary>Members in turn, from where the last choice left off; members that cannot take the task are skipped.</summary>
public sealed class RoundRobinStrategy : IDistributionStrategy
{
    public string Name => Strategies.RoundRobin;

    public Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible)
    {
        var count = board.Members.Count;
        for (var i = 0; i < count; i++)
        {
            var index = (board.RoundRobinNext + i) % count;
            var member = board.Members[index];
            if (eligible(member))
            {
                board.RoundRobinNext = (index + 1) % count;
                return member;
            }
        }
        return null;
    }
}

/// <summary>The eligible member most proficient in the task's capabilities; ties go to the less loaded, then team order.</summary>
public sealed class CapabilityMatchStrategy : IDistributionStrategy
{
    public string Name => Strategies.CapabilityMatch;

    public Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible)
    {
        Member? best = null;
        var bestScore = double.NegativeInfinity;
        foreach (var member in board.Members)
        {
            if (!eligible(member))
            {
                continue;
            }
            var score = member.Proficiency(task.RequiredCapabilities);
            if (best is null || score > bestScore || (score == bestScore && member.Load < best.Load))
            {
                best = member;
                bestScore = score;
            }
        }
        return best;
    }
}

/// <summary>
/// The owner of the task's affinity key (its id when it has none) on a ring of the team's members; when the owner
/// cannot take it now, the next member clockwise that can (consistent hashing with bounded loads). The ring holds
/// every member, healthy or not, so only a member that leaves the team moves keys.
/// </summary>
public sealed class ConsistentHashStrategy(int virtualNodes = HashRing.DefaultVirtualNodes) : IDistributionStrategy
{
    private (string Key, HashRing Ring)? _cached;

    public string Name => Strategies.ConsistentHash;

    public Member? Choose(TeamBoard board, TaskNeeds task, Func<Member, bool> eligible)
    {
        var ring = RingOf(board);
        foreach (var agentId in ring.Walk(task.AffinityKey ?? task.TaskId))
        {
            if (board.Member(agentId) is { } member && eligible(member))
            {
                return member;
            }
        }
        return null;
    }

    /// <summary>The ring for the board's current members; rebuilt only when they change.</summary>
    public HashRing RingOf(TeamBoard board)
    {
        var key = string.Join('\n', board.Members.Select(m => m.AgentId));
        if (_cached is { } cached && cached.Key == key)
        {
            return cached.Ring;
        }
        var ring = new HashRing(board.Members.Select(m => m.AgentId), virtualNodes);
        _cached = (key, ring);
        return ring;
    }
}
