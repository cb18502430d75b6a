using AgenticFlow.Memory.Graph;

namespace AgenticFlow.Memory.Tests;

public sealed class KnowledgeGraphTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static KnowledgeGraph Graph() => new(new HashSet<string> { "works_at" });

    private static Provenance By(string agent, string? memory = null, int days = 0) => new(agent, null, memory, T0.AddDays(days), Provenance.Asserted);

    [Fact]
    public void ASingleValuedFact_ClosesTheOpenOne_AtItsValidFrom_AndKeepsIt()
    {
        var g = Graph();
        var (acme, _) = g.AddRelation("Alice", "works at", "Acme", T0, null, By("a1"), new GraphChange());
        var change = new GraphChange();
        var (globex, created) = g.AddRelation("alice", "Works-At", "Globex", T0.AddDays(100), null, By("a1", days: 100), change);

        Assert.True(created);
        var closed = g.Relation(acme.Id)!;
        Assert.Equal(T0.AddDays(100), closed.ValidTo);
        Assert.Equal(globex.Id, closed.ClosedBy);
        Assert.Contains(acme.Id, change.Relations.Keys);
        Assert.Equal(["globex"], g.Neighbourhood(["alice"], 1, T0.AddDays(200), false, _ => true).Edges.Select(e => e.Object));
        Assert.Equal(["acme"], g.Neighbourhood(["alice"], 1, T0.AddDays(50), false, _ => true).Edges.Select(e => e.Object));
        Assert.Equal(2, g.Neighbourhood(["alice"], 1, T0, true, _ => true).Edges.Count);
    }

    [Fact]
    public void AnOlderFact_ArrivingLate_IsStoredAlreadyClosedByTheNewerOne()
    {
        var g = Graph();
        var (newer, _) = g.AddRelation("Bob", "works_at", "Initech", T0.AddDays(10), null, By("a1"), new GraphChange());
        var (older, _) = g.AddRelation("Bob", "works_at", "Hooli", T0, null, By("a1"), new GraphChange());

        Assert.Null(g.Relation(newer.Id)!.ValidTo);
        Assert.Equal(T0.AddDays(10), older.ValidTo);
        Assert.Equal(newer.Id, older.ClosedBy);
    }

    [Fact]
    public void MultiValuedPredicates_KeepEveryObject_AndTheSameFactOnlyGainsProvenance()
    {
        var g = Graph();
        g.AddRelation("Carol", "likes", "tea", T0, null, By("a1"), new GraphChange());
        g.AddRelation("Carol", "likes", "coffee", T0, null, By("a1"), new GraphChange());
        var (again, created) = g.AddRelation("carol", "likes", "Tea", null, null, By("a2"), new GraphChange());

        Assert.False(created);
        Assert.Equal(2, again.Provenance.Count);
        Assert.Equal(2, g.Neighbourhood(["carol"], 1, T0.AddDays(1), false, _ => true).Edges.Count);
    }

    [Fact]
    public void RemovingAnAgentsProvenance_DeletesEdgesItAloneSupported_ReopensWhatTheyClosed_AndKeepsSharedOnes()
    {
        var g = Graph();
        var (acme, _) = g.AddRelation("Dan", "works_at", "Acme", T0, null, By("keeper"), new GraphChange());
        g.AddRelation("Dan", "works_at", "Globex", T0.AddDays(5), null, By("leaver"), new GraphChange());
        var (shared, _) = g.AddRelation("Dan", "knows", "Eve", T0, null, By("leaver"), new GraphChange());
        g.AddRelation("Dan", "knows", "Eve", T0, null, By("keeper"), new GraphChange());
        g.MergeEntity("Leaver Only", "thing", null, By("leaver"), new GraphChange());

        var change = new GraphChange();
        g.RemoveProvenance(p => p.AgentId == "leaver", change);

        Assert.Null(g.Entity("globex"));
        Assert.Empty(g.RelationsOf("globex"));
        Assert.Null(g.Relation(acme.Id)!.ValidTo);
        Assert.Equal(["keeper"], g.Relation(shared.Id)!.Provenance.Select(p => p.AgentId));
        Assert.Null(g.Entity("leaver only"));
        Assert.Contains("leaver only", change.DeletedEntities);
        Assert.All(g.Entities, e => Assert.DoesNotContain(e.Provenance, p => p.AgentId == "leaver"));
        Assert.All(g.Relations, r => Assert.DoesNotContain(r.Provenance, p => p.AgentId == "leaver"));
    }

    [Fact]
    public void Neighbourhood_WalksHopByHop_AndHidesEdgesTheCallerMayNotSee()
    {
        var g = Graph();
        g.AddRelation("A", "links", "B", T0, null, By("a1"), new GraphChange());
        g.AddRelation("B", "links", "C", T0, null, By("a1"), new GraphChange());
        g.AddRelation("C", "links", "D", T0, null, By("a2"), new GraphChange());

        Assert.Equal(["a", "b"], g.Neighbourhood(["a"], 1, T0, false, _ => true).Nodes.Select(n => n.Key));
        Assert.Equal(["a", "b", "c", "d"], g.Neighbourhood(["a"], 3, T0, false, _ => true).Nodes.Select(n => n.Key));
        var mine = g.Neighbourhood(["a"], 3, T0, false, r => r.Provenance.Any(p => p.AgentId == "a1"));
        Assert.Equal(["a", "b", "c"], mine.Nodes.Select(n => n.Key));
    }

    [Fact]
    public void Neighbourhood_StopsAtItsNodeLimit_AndSaysSo()
    {
        var g = Graph();
        for (var i = 0; i < 50; i++)
        {
            g.AddRelation("Hub", "knows", $"Spoke {i}", T0, null, By("a1"), new GraphChange());
        }

        var capped = g.Neighbourhood(["hub"], 2, T0, false, _ => true, maxNodes: 10);
        var whole = g.Neighbourhood(["hub"], 2, T0, false, _ => true);

        Assert.True(capped.Truncated);
        Assert.Equal(10, capped.Nodes.Count);
        Assert.Equal(9, capped.Edges.Count);
        Assert.All(capped.Edges, e => Assert.Contains(capped.Nodes, n => n.Key == e.Object));
        Assert.False(whole.Truncated);
        Assert.Equal((51, 50), (whole.Nodes.Count, whole.Edges.Count));
    }
}
