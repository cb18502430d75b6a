using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using static AgenticFlow.Coordination.Apis.CoordinationProblems;

namespace AgenticFlow.Coordination.Apis;

/// <summary>Consensus rounds: <c>/api/v1/coordination/consensus</c>.</summary>
public static class ConsensusApi
{
    public static RouteGroupBuilder MapConsensusApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/coordination/consensus").WithTags("Consensus");
        api.MapPost("/", Start).WithName("StartConsensusRound");
        api.MapGet("/{roundId}", Get).WithName("GetConsensusRound");
        api.MapPost("/{roundId}/votes", CastVote).WithName("CastVote");
        return api;
    }

    /// <summary>Admins, operators, services, and agents of the team, start a round.</summary>
    public static async Task<Results<Accepted<RoundAccepted>, ValidationProblem, ProblemHttpResult>> Start(
        StartRoundRequest request, HttpRequest http, ConsensusService consensus, CoordinationStore store, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!caller.Privileged && caller.RestrictedToAgent is null)
        {
            return Refused("Rounds are started by admins, operators, services and the team's agents.");
        }
        var errors = Validation.Check(request, out var round);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (caller.RestrictedToAgent is { } agent && (await store.GetMembershipAsync(agent, ct))?.TeamId != round!.TeamId)
        {
            return Refused("An agent starts rounds only in its own team.");
        }
        // Weights and a quorum decide who carries a round: an agent could give itself the whole vote. Only admins,
        // operators and services set them (as only they may weight a single vote).
        if (caller.RestrictedToAgent is not null && (request.Weights is { Count: > 0 } || request.Quorum is not null))
        {
            return Refused("An agent starts rounds with the team's default weights and quorum; only admins, operators and services set them.");
        }
        var (status, started) = await consensus.StartAsync(round!, ct);
        return status switch
        {
            StartStatus.UnknownTeam => Missing($"No team {round!.TeamId}."),
            StartStatus.TeamClosed => Conflict(TeamClosed, "Team is not active", $"Team {round!.TeamId} is not active."),
            StartStatus.NoVoters => Conflict(TeamClosed, "Team has no members", $"Team {round!.TeamId} has nobody to vote."),
            _ => TypedResults.Accepted($"/api/v1/coordination/consensus/{started!.Id}",
                new RoundAccepted(started.Id, started.TeamId, started.Status, started.DeadlineAt, started.Voters.Select(v => v.AgentId).ToList())),
        };
    }

    public static async Task<Results<Ok<RoundView>, ProblemHttpResult>> Get(string roundId, HttpRequest http, ConsensusService consensus, CancellationToken ct)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading rounds needs a role.");
        }
        return Validation.IsName(roundId) && await consensus.GetAsync(roundId, ct) is { } round
            ? TypedResults.Ok(RoundView.Of(round))
            : Missing($"No consensus round {roundId}.");
    }

    /// <summary>An agent votes as itself (an external agent answering its vote request); admins, operators and
    /// services may vote for any member, and only they may give a vote a weight.</summary>
    public static async Task<Results<Ok<RoundView>, ValidationProblem, ProblemHttpResult>> CastVote(
        string roundId, VoteRequest request, HttpRequest http, ConsensusService consensus, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!caller.Privileged && caller.RestrictedToAgent is null)
        {
            return Refused("Votes come from the voting agent, admins, operators and services.");
        }
        var errors = Validation.Check(request);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (caller.RestrictedToAgent is { } agent)
        {
            if (agent != request.AgentId)
            {
                return Refused("An agent may vote only as itself.");
            }
            if (request.Weight is not null)
            {
                return Refused("A vote's weight is set by the round, or by an admin or operator.");
            }
        }
        if (!Validation.IsName(roundId))
        {
            return Missing($"No consensus round {roundId}.");
        }
        var source = caller.RestrictedToAgent is null ? (caller.FromEdge ? "operator" : "service") : "external";
        var outcome = await consensus.VoteAsync(roundId, new NewVote(request.AgentId!, request.Choice, request.Reason, request.Weight, source), ct);
        return await VoteAnswer(roundId, outcome, consensus, ct);
    }

    public static async Task<Results<Ok<RoundView>, ValidationProblem, ProblemHttpResult>> VoteAnswer(string roundId, VoteOutcome? outcome, ConsensusService consensus, CancellationToken ct) => outcome switch
    {
        null => Missing($"No consensus round {roundId}."),
        VoteOutcome.InvalidChoice => Invalid("choice", "choice must be one of the round's options"),
        VoteOutcome.NotAVoter => Conflict(NotAVoter, "Not a voter", "Only the members of the team when the round started vote in it."),
        VoteOutcome.AlreadyVoted => Conflict(AlreadyVoted, "Already voted", "Each agent votes once per round; the first vote stands."),
        VoteOutcome.Closed => Conflict(RoundClosed, "Round closed", "The round's deadline has passed or its outcome is decided."),
        _ => TypedResults.Ok(RoundView.Of((await consensus.GetAsync(roundId, ct))!)),
    };
}
