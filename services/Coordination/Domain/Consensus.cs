namespace AgenticFlow.Coordination.Domain;

public static class ConsensusModes
{
    public const string Majority = "majority", Quorum = "quorum", Unanimous = "unanimous", Weighted = "weighted";

    public static readonly IReadOnlyList<string> Names = [Majority, Quorum, Unanimous, Weighted];
}

public static class ConsensusOutcomes
{
    public const string Accepted = "accepted", Rejected = "rejected", NoQuorum = "no-quorum";
}

/// <summary>A member entitled to vote in a round, and what its vote weighs (1 unless the round says otherwise).</summary>
public sealed record Voter(string AgentId, string Kind, double Weight);

/// <summary>One vote. A null choice is an abstention (an llm agent whose answer was not one of the options, say):
/// it counts as taking part, for no option.</summary>
public sealed record Vote(string AgentId, string? Choice, string? Reason, double Weight, DateTimeOffset At, string Source);

/// <summary>Where a round stands: settled once no vote still to come could change the outcome.</summary>
public sealed record Verdict(bool Settled, string? Outcome, string? Decision, IReadOnlyDictionary<string, double> Tally, int VotesCast, int Voters);

/// <summary>
/// Counts a round's votes under its mode. Every mode needs enough of the team to take part, else the round ends
/// <c>no-quorum</c>; then an option either wins (<c>accepted</c>, with that option as the decision) or none does
/// (<c>rejected</c>: a split, a tie, or a dissent under unanimity).
/// <list type="bullet">
/// <item><c>majority</c>: more than half the team votes; the option with more than half the votes cast wins.</item>
/// <item><c>quorum</c>: at least <c>quorum</c> members vote (default: more than half); the option with the most votes
/// wins, a tie for first wins nothing.</item>
/// <item><c>unanimous</c>: every member votes, all for the same option.</item>
/// <item><c>weighted</c>: as majority, counting each vote's weight instead of one.</item>
/// </list>
/// </summary>
public static class VoteTally
{
    public static Verdict Evaluate(string mode, IReadOnlyList<string> options, IReadOnlyList<Voter> voters, IEnumerable<Vote> votes, int? quorum, bool deadlinePassed)
    {
        var entitled = voters.ToDictionary(v => v.AgentId, StringComparer.Ordinal);
        // One vote per voter (the first), and only from voters.
        var counted = votes.Where(v => entitled.ContainsKey(v.AgentId)).DistinctBy(v => v.AgentId).ToList();
        var weighted = mode == ConsensusModes.Weighted;
        double WeightOf(Vote v) => weighted ? entitled[v.AgentId].Weight : 1;
        var tally = options.ToDictionary(o => o, o => counted.Where(v => v.Choice == o).Sum(WeightOf), StringComparer.Ordinal);
        var total = weighted ? voters.Sum(v => v.Weight) : voters.Count;
        var cast = counted.Sum(WeightOf);
        var remaining = total - cast;
        var final = deadlinePassed || counted.Count >= voters.Count;
        var ranked = tally.OrderByDescending(t => t.Value).ThenBy(t => options.ToList().IndexOf(t.Key)).ToList();
        var (leader, lead) = ranked.Count > 0 ? (ranked[0].Key, ranked[0].Value) : ("", 0d);
        var second = ranked.Count > 1 ? ranked[1].Value : 0;

        Verdict Settle(string outcome, string? decision = null) => new(true, outcome, decision, tally, counted.Count, voters.Count);
        var open = new Verdict(false, null, null, tally, counted.Count, voters.Count);

        switch (mode)
        {
            case ConsensusModes.Unanimous:
                if (counted.Any(v => v.Choice is null) || counted.Select(v => v.Choice).Distinct().Count() > 1)
                {
                    return Settle(ConsensusOutcomes.Rejected);
                }
                if (counted.Count >= voters.Count && voters.Count > 0)
                {
                    return Settle(ConsensusOutcomes.Accepted, counted[0].Choice);
                }
                return final ? Settle(ConsensusOutcomes.NoQuorum) : open;

            case ConsensusModes.Quorum:
                var needed = Math.Clamp(quorum ?? voters.Count / 2 + 1, 1, Math.Max(1, voters.Count));
                if (counted.Count >= needed && lead > 0 && lead - second > remaining)
                {
                    return Settle(ConsensusOutcomes.Accepted, leader);
                }
                if (!final)
                {
                    return open;
                }
                if (counted.Count < needed)
                {
                    return Settle(ConsensusOutcomes.NoQuorum);
                }
                return lead > 0 && lead > second ? Settle(ConsensusOutcomes.Accepted, leader) : Settle(ConsensusOutcomes.Rejected);

            default: // majority, weighted
                // More than half of everything that could be cast: no later vote can overturn it.
                if (lead * 2 > total)
                {
                    return Settle(ConsensusOutcomes.Accepted, leader);
                }
                var participation = cast * 2 > total;
                // Nobody can reach a majority of the votes cast any more, and enough have taken part.
                if (participation && (lead + remaining) * 2 <= cast + remaining)
                {
                    return Settle(ConsensusOutcomes.Rejected);
                }
                if (!final)
                {
                    return open;
                }
                if (!participation)
                {
                    return Settle(ConsensusOutcomes.NoQuorum);
                }
                return lead * 2 > cast ? Settle(ConsensusOutcomes.Accepted, leader) : Settle(ConsensusOutcomes.Rejected);
        }
    }
}
