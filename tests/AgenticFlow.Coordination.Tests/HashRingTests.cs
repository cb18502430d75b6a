using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

public sealed class HashRingTests
{
    private static readonly string[] Nodes = Enumerable.Range(1, 10).Select(i => $"agent-{i:D2}").ToArray();
    private static readonly string[] Keys = Enumerable.Range(0, 1000).Select(i => $"customer-{i}").ToArray();

    [Fact]
    public void RemovingANode_MovesOnlyTheKeysItOwned()
    {
        var before = new HashRing(Nodes);
        var after = new HashRing(Nodes.Where(n => n != "agent-04"));
        var moved = Keys.Where(k => before.Owner(k) != after.Owner(k)).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, k => Assert.Equal("agent-04", before.Owner(k)));
        Assert.Equal(Keys.Count(k => before.Owner(k) == "agent-04"), moved.Count);
    }

    [Fact]
    public void AddingANode_MovesKeysOnlyToIt()
    {
        var before = new HashRing(Nodes);
        var after = new HashRing(Nodes.Append("agent-11"));
        var moved = Keys.Where(k => before.Owner(k) != after.Owner(k)).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, k => Assert.Equal("agent-11", after.Owner(k)));
    }

    [Fact]
    public void VirtualNodes_SpreadKeysEvenly()
    {
        var ring = new HashRing(Nodes);
        var counts = Enumerable.Range(0, 20_000).GroupBy(i => ring.Owner($"key-{i}")).ToDictionary(g => g.Key!, g => g.Count());
        Assert.Equal(Nodes.Length, counts.Count);
        // 2,000 each on average; 128 points per node keep every node within a third of it.
        Assert.All(counts.Values, c => Assert.InRange(c, 1_333, 2_667));
    }

    [Fact]
    public void Walk_VisitsEveryNodeOnce_OwnerFirst_AndEveryRingAgrees()
    {
        var ring = new HashRing(Nodes);
        var walk = ring.Walk("order-7").ToList();
        Assert.Equal(Nodes.Order(), walk.Order());
        Assert.Equal(ring.Owner("order-7"), walk[0]);
        Assert.Equal(walk, new HashRing(Nodes.Reverse()).Walk("order-7"));
        Assert.Null(new HashRing([]).Owner("x"));
    }
}
