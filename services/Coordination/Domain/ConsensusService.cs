using AgenticFlow.Coordination.Storage;
using AgenticFlow.Coordination.Workflows;
using Dapr.Workflow;

namespace AgenticFlow.Coordination.Domain;

public sealed record NewRound(string TeamId, string Proposal, List<string> Options, string Mode, int? Quorum, int DeadlineSeconds, Dictionary<string, double> Weights);

public enum StartStatus { Started, UnknownTeam, TeamClosed, NoVoters }

public sealed record NewVote(string AgentId, string? Choice, string? Reason, double? Weight, string Source);

/// <summary>Consensus rounds: each one stored, then run by its <see cref="ConsensusRoundWorkflow"/>; votes stored
/// (one per agent) before the workflow is told of them.</summary>
public sealed partial class ConsensusService(CoordinationStore store, DaprWorkflowClient workflows, TimeProvider time, ILogger<ConsensusService> logger)
{
    public async Task<(StartStatus Status, ConsensusRound? Round)> StartAsync(NewRound request, CancellationToken ct)
    {
        if (await store.GetTeamAsync(request.TeamId, ct) is not { } team)
        {
            return (StartStatus.UnknownTeam, null);
        }
        if (!team.IsOpen)
        {
            return (StartStatus.TeamClosed, null);
        }
        if (team.Members.Count == 0)
        {
            return (StartStatus.NoVoters, null);
        }
        var now = time.GetUtcNow();
        var round = new ConsensusRound
        {
            Id = Guid.CreateVersion7(now).ToString("N"),
            TeamId = team.Id,
            Proposal = request.Proposal,
            Options = request.Options,
            Mode = request.Mode,
            Quorum = request.Quorum,
            Voters = team.Members.Select(m => new Voter(m.AgentId, m.Kind, request.Weights.GetValueOrDefault(m.AgentId, 1))).ToList(),
            CreatedAt = now,
            DeadlineAt = now.AddSeconds(request.DeadlineSeconds),
        };
        await store.InsertRoundAsync(round, ct);
        try
        {
            await workflows.ScheduleNewWorkflowAsync(nameof(ConsensusRoundWorkflow), ConsensusRoundWorkflow.InstanceId(round.Id), new RoundStart(round.Id, round.DeadlineAt.UtcDateTime));
        }
        catch
        {
            // A round nobody runs would never close: it is not kept.
            await store.DeleteRoundAsync(round.Id, CancellationToken.None);
            throw;
        }
        return (StartStatus.Started, round);
    }

    public Task<ConsensusRound?> GetAsync(string roundId, CancellationToken ct) => store.GetRoundAsync(roundId, ct);

    /// <summary>Stores the vote (or says why not), then wakes the round. Null when there is no such round.</summary>
    public async Task<VoteOutcome?> VoteAsync(string roundId, NewVote vote, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var (found, outcome) = await store.ChangeRoundAsync(roundId, round =>
        {
            if (round.Status == RoundStatus.Open && now >= round.DeadlineAt)
            {
                // Past the deadline the round only waits for its workflow to close it: no vote counts any more.
                return (false, VoteOutcome.Closed);
            }
            var weight = vote.Weight ?? round.Voters.Find(v => v.AgentId == vote.AgentId)?.Weight ?? 1;
            var result = round.Cast(new Vote(vote.AgentId, vote.Choice, vote.Reason, weight, now, vote.Source));
            if (result == VoteOutcome.Recorded && vote.Weight is { } given)
            {
                // A privileged caller may set the weight of the vote it casts for an agent.
                var index = round.Voters.FindIndex(v => v.AgentId == vote.AgentId);
                round.Voters[index] = round.Voters[index] with { Weight = given };
            }
            return (result == VoteOutcome.Recorded, result);
        }, ct);
        if (outcome == VoteOutcome.Recorded)
        {
            try
            {
                await workflows.RaiseEventAsync(ConsensusRoundWorkflow.InstanceId(roundId), ConsensusRoundWorkflow.VoteEvent, new VoteSignal(vote.AgentId), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The vote is stored and counts when the round closes; only an early close waits for the deadline.
                LogNotSignalled(ex, roundId);
            }
        }
        return found ? outcome : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Round {RoundId} could not be told of a stored vote; it counts at the close")]
    private partial void LogNotSignalled(Exception ex, string roundId);
}
