using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

public sealed class ConsensusTests
{
    private static readonly string[] Options = ["approve", "reject"];
    private static readonly DateTimeOffset Now = Board.Start;

    private static List<Voter> Voters(int count, Func<int, double>? weight = null) =>
        Enumerable.Range(1, count).Select(i => new Voter($"a{i}", "external", weight?.Invoke(i) ?? 1)).ToList();

    private static List<Vote> Votes(params string?[] choices) =>
        choices.Select((c, i) => new Vote($"a{i + 1}", c, "because", 1, Now, "external")).ToList();

    private static Verdict Evaluate(string mode, int voters, string?[] choices, bool deadline = false, int? quorum = null, Func<int, double>? weight = null) =>
        VoteTally.Evaluate(mode, Options, Voters(voters, weight), Votes(choices), quorum, deadline);

    [Fact]
    public void Majority_SettlesAsSoonAsAnOptionHasMoreThanHalfTheTeam()
    {
        Assert.False(Evaluate(ConsensusModes.Majority, 5, ["approve", "approve"]).Settled);
        var verdict = Evaluate(ConsensusModes.Majority, 5, ["approve", "reject", "approve", "approve"]);
        Assert.True(verdict.Settled);
        Assert.Equal(ConsensusOutcomes.Accepted, verdict.Outcome);
        Assert.Equal("approve", verdict.Decision);
        Assert.Equal(3, verdict.Tally["approve"]);
    }

    [Fact]
    public void Majority_AtTheDeadline_CountsTheVotesCast_OrEndsWithoutQuorum()
    {
        // 6 of 10 voted: enough took part, and 4 of 6 is a majority of those cast.
        var enough = Evaluate(ConsensusModes.Majority, 10, ["approve", "approve", "approve", "approve", "reject", "reject"], deadline: true);
        Assert.Equal((ConsensusOutcomes.Accepted, "approve"), (enough.Outcome, enough.Decision));
        var few = Evaluate(ConsensusModes.Majority, 10, ["approve", "approve"], deadline: true);
        Assert.Equal(ConsensusOutcomes.NoQuorum, few.Outcome);
        var split = Evaluate(ConsensusModes.Majority, 4, ["approve", "approve", "reject", "reject"]);
        Assert.Equal(ConsensusOutcomes.Rejected, split.Outcome);
    }

    [Fact]
    public void Quorum_NeedsTheQuorum_ThenThePluralityWins_AndATieWinsNothing()
    {
        Assert.Equal(ConsensusOutcomes.NoQuorum, Evaluate(ConsensusModes.Quorum, 10, ["approve", "approve"], deadline: true, quorum: 3).Outcome);
        var plurality = Evaluate(ConsensusModes.Quorum, 10, ["approve", "approve", "reject"], deadline: true, quorum: 3);
        Assert.Equal((ConsensusOutcomes.Accepted, "approve"), (plurality.Outcome, plurality.Decision));
        Assert.Equal(ConsensusOutcomes.Rejected, Evaluate(ConsensusModes.Quorum, 10, ["approve", "reject", "approve", "reject"], deadline: true, quorum: 3).Outcome);
        // Settled early once the lead exceeds every vote still to come.
        Assert.True(Evaluate(ConsensusModes.Quorum, 4, ["approve", "approve", "approve"], quorum: 2).Settled);
        Assert.False(Evaluate(ConsensusModes.Quorum, 4, ["approve", "approve", "reject"], quorum: 2).Settled);
    }

    [Fact]
    public void Unanimous_NeedsEveryVoteAlike_ADissentEndsItAtOnce_AndMissingVotesAreNoQuorum()
    {
        Assert.Equal(ConsensusOutcomes.Accepted, Evaluate(ConsensusModes.Unanimous, 3, ["reject", "reject", "reject"]).Outcome);
        var dissent = Evaluate(ConsensusModes.Unanimous, 5, ["approve", "reject"]);
        Assert.True(dissent.Settled);
        Assert.Equal(ConsensusOutcomes.Rejected, dissent.Outcome);
        Assert.False(Evaluate(ConsensusModes.Unanimous, 3, ["approve", "approve"]).Settled);
        Assert.Equal(ConsensusOutcomes.NoQuorum, Evaluate(ConsensusModes.Unanimous, 3, ["approve", "approve"], deadline: true).Outcome);
        Assert.Equal(ConsensusOutcomes.Rejected, Evaluate(ConsensusModes.Unanimous, 3, ["approve", null]).Outcome);
    }

    [Fact]
    public void Weighted_CountsWeights_SoOneHeavyVoterCanDecide()
    {
        // a1 weighs 5 of 9 in all.
        var verdict = Evaluate(ConsensusModes.Weighted, 5, ["approve"], weight: i => i == 1 ? 5 : 1);
        Assert.True(verdict.Settled);
        Assert.Equal((ConsensusOutcomes.Accepted, "approve"), (verdict.Outcome, verdict.Decision));
        Assert.Equal(5, verdict.Tally["approve"]);
        var outweighed = Evaluate(ConsensusModes.Weighted, 5, [null, "reject", "reject", "reject", "reject"], weight: i => i == 1 ? 5 : 1);
        Assert.Equal(ConsensusOutcomes.Rejected, outweighed.Outcome);
        // Taking part is counted in weight too: 6 of 21 is not enough.
        Assert.Equal(ConsensusOutcomes.NoQuorum, Evaluate(ConsensusModes.Weighted, 5, [null, "reject"], deadline: true, weight: i => i == 1 ? 1 : 5).Outcome);
    }

    [Fact]
    public void Round_TakesOneVotePerVoter_OnlyFromVoters_OnlyForItsOptions_AndNoneOnceClosed()
    {
        var round = new ConsensusRound { Id = "r", TeamId = "t", Proposal = "ship it?", Options = [.. Options], Mode = ConsensusModes.Majority, Voters = Voters(3), DeadlineAt = Now.AddMinutes(1) };
        Assert.Equal(VoteOutcome.Recorded, round.Cast(new Vote("a1", "approve", "tests pass", 1, Now, "external")));
        Assert.Equal(VoteOutcome.AlreadyVoted, round.Cast(new Vote("a1", "reject", "changed my mind", 1, Now, "external")));
        Assert.Equal(VoteOutcome.NotAVoter, round.Cast(new Vote("stranger", "approve", null, 1, Now, "external")));
        Assert.Equal(VoteOutcome.InvalidChoice, round.Cast(new Vote("a2", "maybe", null, 1, Now, "external")));
        Assert.Equal(VoteOutcome.Recorded, round.Cast(new Vote("a2", null, "answered 'maybe'", 1, Now, "llm")));
        Assert.True(round.Close(Now));
        Assert.False(round.Close(Now));
        Assert.Equal(VoteOutcome.Closed, round.Cast(new Vote("a3", "approve", null, 1, Now, "external")));
        // Two of three took part; one approve of two cast is not more than half.
        Assert.Equal(ConsensusOutcomes.Rejected, round.Outcome);
        Assert.Equal("tests pass", round.Votes[0].Reason);
    }
}
