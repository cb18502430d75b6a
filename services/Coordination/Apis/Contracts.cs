using System.Text.Json;
using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Apis;

public sealed record RequirementDto(string? Capability, int? Count, double? MinProficiency);

public sealed record CreateTeamRequest(string? Name, List<string>? Members, List<RequirementDto>? Requirements, string? Strategy);

public sealed record ChangeMembersRequest(List<string>? Add, List<string>? Remove);

public sealed record SubmitTaskRequest(string? Description, JsonElement? Input, List<string>? RequiredCapabilities, string? Priority, DateTimeOffset? Deadline, string? AffinityKey);

public sealed record StartRoundRequest(string? TeamId, string? Proposal, List<string>? Options, string? Mode, int? Quorum, int? DeadlineSeconds, Dictionary<string, double>? Weights);

public sealed record VoteRequest(string? AgentId, string? Choice, string? Reason, double? Weight);

/// <summary>A vote from an llm agent, forwarded by the agents service; a null choice (or <c>abstain</c>) abstains.</summary>
public sealed record InternalVoteRequest(string? AgentId, string? Choice, string? Reason, bool? Abstain);

/// <summary><c>attempt</c>: the attempt the result is for, as given to the agent; a result for an earlier attempt changes nothing.</summary>
public sealed record TaskResultRequest(string? AgentId, string? Status, JsonElement? Output, string? Error, int? Attempt = null);

public sealed record MemberView(string AgentId, string Kind, string Health, int Load, int MaxConcurrentTasks, IReadOnlyDictionary<string, double> Capabilities, DateTimeOffset JoinedAt)
{
    public static MemberView Of(Member m) => new(m.AgentId, m.Kind, m.Healthy ? "healthy" : "unhealthy", m.Load, m.MaxConcurrentTasks, m.Capabilities, m.JoinedAt);
}

public sealed record TeamView(string Id, string Name, string Strategy, string Status, IReadOnlyList<MemberView> Members, IReadOnlyList<Requirement> Requirements,
    DateTimeOffset CreatedAt, DateTimeOffset? DisbandedAt, string? FailureReason)
{
    public static TeamView Of(TeamBoard b) => new(b.Id, b.Name, b.Strategy, b.Status, b.Members.Select(MemberView.Of).ToList(), b.Requirements,
        b.CreatedAt, b.DisbandedAt, b.FailureReason);
}

public sealed record TeamList(IReadOnlyList<TeamView> Items);

public sealed record TaskAccepted(string TaskId, string TeamId, string State, string? AgentId);

public sealed record TaskView(string Id, string TeamId, string Description, JsonElement? Input, IReadOnlyList<string> RequiredCapabilities, string Priority,
    string? AffinityKey, DateTimeOffset? Deadline, string State, string? AgentId, int Attempts, int MaxAttempts, DateTimeOffset CreatedAt,
    DateTimeOffset? AssignedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, JsonElement? Output, string? Error, IReadOnlyList<TaskTransition> History)
{
    public static TaskView Of(TaskRecord t) => new(t.Id, t.TeamId, t.Description, t.Input, t.RequiredCapabilities, t.Priority.ToString().ToLowerInvariant(),
        t.AffinityKey, t.Deadline, t.State, t.AgentId, t.Attempts, t.MaxAttempts, t.CreatedAt, t.AssignedAt, t.StartedAt, t.FinishedAt, t.Output, t.Error, t.History);
}

public sealed record TaskPage(IReadOnlyList<TaskView> Items, string? NextCursor);

public sealed record MemberStatus(string AgentId, string Kind, string Health, int Load, int MaxConcurrentTasks, int Assigned, int Running);

public sealed record TaskCounts(int Pending, int Assigned, int Running, long Completed, long Failed);

public sealed record Throughput(int CompletedLastMinute, double PerSecond);

public sealed record Latency(double? P50Ms, double? P99Ms, int Samples);

public sealed record TeamStatusView(string TeamId, string Name, string Status, string Strategy, IReadOnlyList<MemberStatus> Members, TaskCounts Tasks, Throughput Throughput, Latency Latency)
{
    public static TeamStatusView Of(TeamBoard b, DateTimeOffset now)
    {
        var members = b.Members.Select(m => new MemberStatus(m.AgentId, m.Kind, m.Healthy ? "healthy" : "unhealthy", m.Load, m.MaxConcurrentTasks,
            m.Open.Count(o => !o.Running), m.Open.Count(o => o.Running))).ToList();
        var counts = new TaskCounts(b.Pending.Count, members.Sum(m => m.Assigned), members.Sum(m => m.Running), b.Completed, b.Failed);
        var lastMinute = b.RecentCompletions.Count(c => c > now.AddMinutes(-1));
        var sorted = b.RecentLatenciesMs.Order().ToList();
        return new TeamStatusView(b.Id, b.Name, b.Status, b.Strategy, members, counts, new Throughput(lastMinute, Math.Round(lastMinute / 60.0, 3)),
            new Latency(Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted.Count));
    }

    /// <summary>Nearest-rank percentile of sorted values; null with no values.</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? null : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)], 2);
}

public sealed record RoundAccepted(string RoundId, string TeamId, string Status, DateTimeOffset Deadline, IReadOnlyList<string> Voters);

public sealed record RoundView(string RoundId, string TeamId, string Proposal, IReadOnlyList<string> Options, string Mode, int? Quorum, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset Deadline, DateTimeOffset? ClosedAt, string? Outcome, string? Decision, IReadOnlyDictionary<string, double> Tally,
    IReadOnlyList<Vote> Votes, IReadOnlyList<Voter> Voters, IReadOnlyList<string> Unreached)
{
    public static RoundView Of(ConsensusRound r)
    {
        // While open, the tally so far; once closed, the one the outcome came from.
        var tally = r.Status == RoundStatus.Closed ? r.Tally : r.Evaluate(deadlinePassed: false).Tally;
        return new RoundView(r.Id, r.TeamId, r.Proposal, r.Options, r.Mode, r.Quorum, r.Status, r.CreatedAt, r.DeadlineAt, r.ClosedAt, r.Outcome, r.Decision,
            tally, r.Votes, r.Voters, r.Unreached);
    }
}
