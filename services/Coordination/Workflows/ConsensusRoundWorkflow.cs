using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Workflows;

public sealed record RoundStart(string RoundId, DateTime DeadlineUtc);

/// <summary>What wakes a round: a vote was stored for this agent.</summary>
public sealed record VoteSignal(string AgentId);

public sealed record RoundResult(string RoundId, string? Outcome, string? Decision);

/// <summary>
/// A consensus round as a durable workflow: ask every member for its vote, then wait for votes until the outcome
/// can no longer change or the deadline's durable timer fires, and close the round with the votes stored by then.
/// Its timer and its place survive a restart of the app or of its sidecar.
/// </summary>
public sealed class ConsensusRoundWorkflow : Workflow<RoundStart, RoundResult>
{
    public const string VoteEvent = "vote";

    public static string InstanceId(string roundId) => "consensus-" + roundId;

    private static readonly WorkflowTaskOptions Retry = new(new WorkflowRetryPolicy(5, TimeSpan.FromMilliseconds(500), 2, TimeSpan.FromSeconds(10)));

    public override async Task<RoundResult> RunAsync(WorkflowContext context, RoundStart start)
    {
        await context.CallActivityAsync<bool>(nameof(RequestVotesActivity), start.RoundId, Retry);
        using var cancelTimer = new CancellationTokenSource();
        var deadline = context.CreateTimer(start.DeadlineUtc, cancelTimer.Token);
        while (!await context.CallActivityAsync<bool>(nameof(IsRoundSettledActivity), start.RoundId, Retry))
        {
            var vote = context.WaitForExternalEventAsync<VoteSignal>(VoteEvent);
            if (await Task.WhenAny(vote, deadline) == deadline)
            {
                break;
            }
        }
        if (!deadline.IsCompleted)
        {
            cancelTimer.Cancel();
        }
        return await context.CallActivityAsync<RoundResult>(nameof(CloseRoundActivity), start.RoundId, Retry);
    }
}

internal sealed partial class RequestVotesActivity(CoordinationStore store, IAgentsClient agents, ILogger<RequestVotesActivity> logger) : WorkflowActivity<string, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, string roundId)
    {
        if (await store.GetRoundAsync(roundId, CancellationToken.None) is not { Status: RoundStatus.Open } round)
        {
            return false;
        }
        var unreached = new List<string>();
        // The agents service runs llm agents' votes off the request path and queues external agents' requests, so
        // each call is short; a member it cannot reach may still vote through the public votes endpoint.
        await Parallel.ForEachAsync(round.Voters, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (voter, ct) =>
        {
            var delivery = await agents.RequestVoteAsync(voter.AgentId, new
            {
                roundId = round.Id,
                teamId = round.TeamId,
                proposal = round.Proposal,
                options = round.Options,
                deadline = round.DeadlineAt,
            }, ct);
            if (delivery != Delivery.Accepted)
            {
                LogUnreached(voter.AgentId, round.Id, delivery);
                lock (unreached)
                {
                    unreached.Add(voter.AgentId);
                }
            }
        });
        if (unreached.Count > 0)
        {
            await store.ChangeRoundAsync(roundId, r => { r.Unreached = [.. unreached.Order(StringComparer.Ordinal)]; return (true, true); }, CancellationToken.None);
        }
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vote request to agent {AgentId} for round {RoundId} was not accepted: {Delivery}")]
    private partial void LogUnreached(string agentId, string roundId, Delivery delivery);
}

internal sealed class IsRoundSettledActivity(CoordinationStore store) : WorkflowActivity<string, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, string roundId) =>
        await store.GetRoundAsync(roundId, CancellationToken.None) is not { } round || round.Status != RoundStatus.Open || round.Evaluate(deadlinePassed: false).Settled;
}

internal sealed class CloseRoundActivity(CoordinationStore store, DaprClient dapr, IOptions<CoordinationOptions> options, TimeProvider time, ILogger<CloseRoundActivity> logger)
    : WorkflowActivity<string, RoundResult>
{
    public override async Task<RoundResult> RunAsync(WorkflowActivityContext context, string roundId)
    {
        var (_, closed) = await store.ChangeRoundAsync(roundId, round => (round.Close(time.GetUtcNow()), round), CancellationToken.None);
        if (closed is null)
        {
            return new RoundResult(roundId, null, null);
        }
        await dapr.TryPublishEventAsync(options.Value.PubSub, CoordinationEvents.ConsensusDecided, new
        {
            roundId,
            teamId = closed.TeamId,
            outcome = closed.Outcome,
            decision = closed.Decision,
            tally = closed.Tally,
            votes = closed.Votes.Count,
            voters = closed.Voters.Count,
            at = closed.ClosedAt,
        }, logger);
        return new RoundResult(roundId, closed.Outcome, closed.Decision);
    }
}
