using AgenticFlow.Coordination.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using static AgenticFlow.Coordination.Apis.CoordinationProblems;

namespace AgenticFlow.Coordination.Apis;

/// <summary>The event the agents service publishes on each agent change (the fields coordination reads).</summary>
public sealed record AgentEvent(string? AgentId, string? Status, string? Health);

/// <summary>
/// Routes for the agents service (see the agents-coordination contract): task results, llm votes, drains, and the
/// agents' health events. Not in the gateway's route table, and refused to any call that came through the gateway.
/// </summary>
public static class InternalApi
{
    public static RouteGroupBuilder MapInternalApi(this IEndpointRouteBuilder app, string pubsub)
    {
        var api = app.MapGroup("/internal").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
            CallerIdentity.From(context.HttpContext.Request).FromEdge
                ? Refused("Internal routes are for other services, through Dapr.")
                : await next(context));
        api.MapPost("/tasks/{taskId}/result", Result);
        api.MapPost("/consensus/{roundId}/votes", Vote);
        api.MapPost("/agents/{agentId}/drain", Drain);
        api.MapPost("/events/agent-unhealthy", Unhealthy).WithTopic(pubsub, CoordinationEvents.AgentUnhealthy);
        api.MapPost("/events/agent-healthy", Healthy).WithTopic(pubsub, CoordinationEvents.AgentHealthy);
        api.MapPost("/events/agent-deregistered", Deregistered).WithTopic(pubsub, CoordinationEvents.AgentDeregistered);
        return api;
    }

    /// <summary>A result; the same result twice changes nothing (200), one from an agent the task is not assigned to is 409.</summary>
    public static async Task<Results<Ok, ValidationProblem, ProblemHttpResult>> Result(
        string taskId, TaskResultRequest request, TaskCoordinator tasks, IOptions<CoordinationOptions> options, CancellationToken ct)
    {
        var errors = Validation.Check(request, options.Value.MaxInputBytes);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var outcome = await tasks.ReportAsync(taskId, request.AgentId!, request.Status == TaskState.Completed,
            request.Output is { ValueKind: not System.Text.Json.JsonValueKind.Undefined } output ? output.Clone() : null, request.Error, request.Attempt, ct);
        return outcome switch
        {
            ReportStatus.UnknownTask => Missing($"No task {taskId}."),
            ReportStatus.NotAssignee => Conflict(NotAssignee, "Task not assigned to this agent", $"Task {taskId} is not assigned to agent {request.AgentId} (it was reassigned, or never was)."),
            _ => TypedResults.Ok(),
        };
    }

    public static async Task<Results<Ok<RoundView>, ValidationProblem, ProblemHttpResult>> Vote(
        string roundId, InternalVoteRequest request, ConsensusService consensus, CancellationToken ct)
    {
        var errors = Validation.Check(request);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        // An answer that is none of the options counts as an abstention, with the answer kept as its reason.
        var round = await consensus.GetAsync(roundId, ct);
        var choice = request.Abstain == true || round is null || request.Choice is null || !round.Options.Contains(request.Choice) ? null : request.Choice;
        var reason = choice is null && request.Choice is not null ? $"abstained: answered '{request.Choice}', not an option. {request.Reason}".Trim() : request.Reason;
        var outcome = await consensus.VoteAsync(roundId, new NewVote(request.AgentId!, choice, reason, null, "llm"), ct);
        return await ConsensusApi.VoteAnswer(roundId, outcome, consensus, ct);
    }

    public static async Task<Ok> Drain(string agentId, TaskCoordinator tasks, CancellationToken ct)
    {
        await tasks.ReleaseAgentAsync(agentId, "agent is draining", leave: true, ct);
        return TypedResults.Ok();
    }

    public static async Task<Ok> Unhealthy(AgentEvent data, TaskCoordinator tasks, CancellationToken ct)
    {
        if (Validation.IsName(data.AgentId))
        {
            await tasks.ReleaseAgentAsync(data.AgentId!, "agent is unhealthy", leave: false, ct);
        }
        return TypedResults.Ok();
    }

    public static async Task<Ok> Healthy(AgentEvent data, TaskCoordinator tasks, CancellationToken ct)
    {
        if (Validation.IsName(data.AgentId))
        {
            await tasks.MarkHealthyAsync(data.AgentId!, ct);
        }
        return TypedResults.Ok();
    }

    public static async Task<Ok> Deregistered(AgentEvent data, TaskCoordinator tasks, CancellationToken ct)
    {
        if (Validation.IsName(data.AgentId))
        {
            await tasks.ReleaseAgentAsync(data.AgentId!, "agent deregistered", leave: true, ct);
        }
        return TypedResults.Ok();
    }
}
