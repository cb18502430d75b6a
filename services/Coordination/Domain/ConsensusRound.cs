namespace AgenticFlow.Coordination.Domain;

public static class RoundStatus
{
    public const string Open = "open", Closed = "closed";
}

public enum VoteOutcome { Recorded, NotAVoter, AlreadyVoted, Closed, InvalidChoice }

/// <summary>
/// A consensus round as stored: the question, who may vote, every vote with its reason, and once closed the outcome.
/// Votes are stored here first (one per agent, checked under the document's ETag); the round's workflow is woken by
/// an event per vote and, when it closes the round, counts what is stored, so a vote stored but never announced
/// still counts.
/// </summary>
public sealed class ConsensusRound
{
    public required string Id { get; init; }
    public required string TeamId { get; init; }
    public required string Proposal { get; init; }
    public required List<string> Options { get; init; }
    public required string Mode { get; init; }
    public int? Quorum { get; init; }
    public List<Voter> Voters { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset DeadlineAt { get; init; }
    public string Status { get; set; } = RoundStatus.Open;
    public List<Vote> Votes { get; set; } = [];
    public string? Outcome { get; set; }
    public string? Decision { get; set; }
    public Dictionary<string, double> Tally { get; set; } = [];
    public DateTimeOffset? ClosedAt { get; set; }
    /// <summary>Voters a vote request could not reach (their vote can still come through the votes endpoint).</summary>
    public List<string> Unreached { get; set; } = [];

    public VoteOutcome Cast(Vote vote)
    {
        if (Status != RoundStatus.Open)
        {
            return VoteOutcome.Closed;
        }
        if (!Voters.Any(v => v.AgentId == vote.AgentId))
        {
            return VoteOutcome.NotAVoter;
        }
        if (Votes.Any(v => v.AgentId == vote.AgentId))
        {
            return VoteOutcome.AlreadyVoted;
        }
        if (vote.Choice is not null && !Options.Contains(vote.Choice, StringComparer.Ordinal))
        {
            return VoteOutcome.InvalidChoice;
        }
        Votes.Add(vote);
        return VoteOutcome.Recorded;
    }

    public Verdict Evaluate(bool deadlinePassed) => VoteTally.Evaluate(Mode, Options, Voters, Votes, Quorum, deadlinePassed);

    /// <summary>Closes the round with what is stored now. Returns false when it was closed already.</summary>
    public bool Close(DateTimeOffset now)
    {
        if (Status == RoundStatus.Closed)
        {
            return false;
        }
        var verdict = Evaluate(deadlinePassed: true);
        Status = RoundStatus.Closed;
        Outcome = verdict.Outcome;
        Decision = verdict.Decision;
        Tally = verdict.Tally.ToDictionary();
        ClosedAt = now;
        return true;
    }
}
