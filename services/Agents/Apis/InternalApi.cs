using AgenticFlow.Agents.Actors;
using AgenticFlow.Agents.Clients;
using AgenticFlow.Agents.Domain;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Agents.Apis;

/// <summary>
/// <c>/internal/agents/{id}/...</c>: work the coordination service gives agents. Not routed by the gateway, not in the
/// OpenAPI document, and refused to any call that came through the gateway (it carries an edge identity).
/// </summary>
public static class InternalApi
{
    public static RouteGroupBuilder MapInternalAgentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/internal/agents").ExcludeFromDescription();
        api.MapPost("/{agentId}/tasks", AssignTask);
        api.MapPost("/{agentId}/votes", RequestVote);
        return api;
    }

    public static async Task<IResult> AssignTask(string agentId, AssignTaskRequest request, HttpContext http, WorkRunner runner, MessagingClient messaging, CancellationToken ct)
    {
        if (CallerIdentity.From(http.Request).FromEdge)
        {
            return AgentsApi.Forbidden("Internal routes are for services only.");
        }
        var errors = RequestRules.Task(request, out var work);
        return errors.Count > 0 ? AgentsApi.Invalid(errors) : await GiveAsync(agentId, work!, runner, messaging, ct);
    }

    public static async Task<IResult> RequestVote(string agentId, VoteRequest request, HttpContext http, WorkRunner runner, MessagingClient messaging, CancellationToken ct)
    {
        if (CallerIdentity.From(http.Request).FromEdge)
        {
            return AgentsApi.Forbidden("Internal routes are for services only.");
        }
        var errors = RequestRules.Vote(request, out var work);
        return errors.Count > 0 ? AgentsApi.Invalid(errors) : await GiveAsync(agentId, work!, runner, messaging, ct);
    }

    /// <summary>Stores the work with the agent (idempotent by its id); an llm agent's reminder runs it, an external agent
    /// gets it in its queue before the answer, so 202 means it is in hand.</summary>
    private static async Task<IResult> GiveAsync(string agentId, WorkItem work, WorkRunner runner, MessagingClient messaging, CancellationToken ct)
    {
        if (!RequestRules.IsId(agentId))
        {
            return AgentsApi.NotFound(agentId);
        }
        var actor = runner.Actor(agentId);
        var reply = await actor.Assign(work);
        switch (reply.Outcome)
        {
            case Outcomes.NotFound:
                return AgentsApi.NotFound(agentId);
            case Outcomes.Draining:
                return AgentsApi.Problem(StatusCodes.Status409Conflict, "draining", "Agent is being removed", reply.Detail!);
        }
        var stored = reply.Work!;
        var agent = (await actor.Get()).Agent;
        // An external agent's work goes to its queue; sent again (same idempotency key) when an earlier attempt failed.
        if (agent?.Kind == AgentKinds.External && stored.Status == WorkStatuses.Accepted)
        {
            if (!await messaging.SendAsync(agentId, stored, ct))
            {
                return AgentsApi.Problem(StatusCodes.Status503ServiceUnavailable, "messaging-unavailable", "Messaging unavailable",
                    $"Work {stored.Id} is recorded for agent {agentId} but could not be queued for it; send it again.");
            }
            stored = (await actor.MarkDelivered(stored.Id)).Work ?? stored;
        }
        return TypedResults.Accepted($"/api/v1/agents/{Uri.EscapeDataString(agentId)}/tasks/{Uri.EscapeDataString(stored.Id)}",
            new { agentId, workId = stored.Id, kind = stored.Kind, status = stored.Status });
    }
}
