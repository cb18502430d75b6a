using AgenticFlow.Providers.Storage;

namespace AgenticFlow.IntegrationTests;

/// <summary>The providers ledger's in-memory totals when a commit fails without saying whether it was stored.</summary>
public sealed class ReplicaTotalsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private static CostRecord Call(string id, decimal cost) => new(id, Now, "fake", "m", "alice", 10, 5, cost, 1);

    private static ReplicaTotals.Changes Apply(ReplicaTotals totals, params CostRecord[] records) =>
        totals.Apply(records, _ => "costs:h:r1", r => $"spend:{r.Caller}:d:r1");

    [Fact]
    public void AFailedCommit_WhoseBatchWasStoredAfterAll_IsCountedOnceTheDocumentsAreReadBack()
    {
        var totals = new ReplicaTotals();
        totals.Keep(Apply(totals, Call("1", 1m)), Now);

        // The second batch's commit times out, but the store applied it.
        var lost = Apply(totals, Call("2", 2m));
        totals.MarkUnsure(lost);
        Assert.Equal(1m, totals.SpendOf("spend:alice:d:r1"));
        var (hours, spend) = totals.UnsureKeys(k => k.StartsWith("costs:", StringComparison.Ordinal));
        Assert.Equal(["costs:h:r1"], hours);
        Assert.Equal(["spend:alice:d:r1"], spend);

        totals.Reload(lost.Hours.ToDictionary(h => h.Key, h => (Dictionary<string, CostTotals>?)h.Value), lost.Spend.ToDictionary(s => s.Key, s => (decimal?)s.Value));
        var third = Apply(totals, Call("3", 4m));

        Assert.Equal(7m, third.Spend["spend:alice:d:r1"]);
        Assert.Equal(3, third.Hours["costs:h:r1"].Values.Single().Calls);
        Assert.Equal((0, 0), (totals.UnsureKeys(_ => true).Hours.Count, totals.UnsureKeys(_ => true).Spend.Count));
    }

    [Fact]
    public void AFailedCommit_ThatStoredNothing_LeavesTheTotalsAsTheyWere()
    {
        var totals = new ReplicaTotals();
        totals.Keep(Apply(totals, Call("1", 1m)), Now);
        var before = Apply(totals, Call("x", 0m)).Hours["costs:h:r1"].Values.Single().Calls;
        totals.MarkUnsure(Apply(totals, Call("2", 2m)));

        // Read back: the store still holds the first batch's documents.
        totals.Reload(new Dictionary<string, Dictionary<string, CostTotals>?> { ["costs:h:r1"] = Apply(new ReplicaTotals(), Call("1", 1m)).Hours["costs:h:r1"] },
            new Dictionary<string, decimal?> { ["spend:alice:d:r1"] = 1m });

        Assert.Equal(2, before);
        Assert.Equal(3m, Apply(totals, Call("3", 2m)).Spend["spend:alice:d:r1"]);
    }
}
