using AgenticFlow.Agents.Actors;
using AgenticFlow.Agents.Clients;
using AgenticFlow.Agents.Domain;
using AgenticFlow.Agents.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Agents.Apis;

/// <summary><c>/api/v1/agents</c>: registration, reads, state, heartbeats, removal, and external agents' results.</summary>
public static class AgentsApi
{
    public const string ProblemBase = Problems.Base;

    public static RouteGroupBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        // Checked here again, not only at the gateway; each handler then checks what the caller's role may do.
        var api = app.MapGroup("/api/v1/agents").WithTags("Agents").RequirePlatformRole();
        api.MapPost("/", Register).WithName("RegisterAgent");
        api.MapGet("/", List).WithName("ListAgents");
        api.MapGet("/capabilities", Capabilities).WithName("AgentCapabilities");
        api.MapGet("/{agentId}", Get).WithName("GetAgent");
        api.MapPut("/{agentId}/state", UpdateState).WithName("UpdateAgentState");
        api.MapDelete("/{agentId}", Delete).WithName("DeleteAgent");
        api.MapPost("/{agentId}/heartbeat", Heartbeat).WithName("AgentHeartbeat");
        api.MapGet("/{agentId}/tasks/{taskId}", GetTask).WithName("GetAgentTask");
        api.MapPost("/{agentId}/tasks/{taskId}/result", PostResult).WithName("PostTaskResult");
        api.MapPost("/{agentId}/tasks/{taskId}/approvals", Approve).WithName("ApproveToolCall");
        return api;
    }

    public static async Task<IResult> Register(RegisterAgentRequest request, HttpContext http, WorkRunner runner)
    {
        if (!CallerIdentity.From(http.Request).Privileged)
        {
            return Forbidden("Only admins and operators register agents.");
        }
        var errors = RequestRules.Register(request, out var agent);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var reply = await runner.Actor(agent!.Id).Register(agent);
        if (reply.Outcome == Outcomes.Exists)
        {
            return Problem(StatusCodes.Status409Conflict, "exists", "Agent exists", reply.Detail!);
        }
        http.Response.Headers.ETag = reply.Agent!.ETag;
        return TypedResults.Created($"/api/v1/agents/{Uri.EscapeDataString(reply.Agent.Id)}", AgentView.Of(reply.Agent));
    }

    public static async Task<IResult> Get(string agentId, HttpContext http, WorkRunner runner)
    {
        if (!RequestRules.IsId(agentId) || (await runner.Actor(agentId).Get()).Agent is not { } agent)
        {
            return NotFound(agentId);
        }
        http.Response.Headers.ETag = agent.ETag;
        // An llm agent's prompt and tools are its owner's business, not every reader's.
        return TypedResults.Ok(AgentView.Of(agent, showLlm: CallerIdentity.From(http.Request).MayActFor(agentId)));
    }

    public static async Task<IResult> UpdateState(string agentId, UpdateStateRequest request, HttpContext http, WorkRunner runner)
    {
        if (!CallerIdentity.From(http.Request).MayActFor(agentId))
        {
            return Forbidden("An agent may change only its own state.");
        }
        var ifMatch = http.Request.Headers.IfMatch.Count > 0 ? http.Request.Headers.IfMatch.ToString().Trim() : null;
        var errors = RequestRules.State(request, ifMatch, out var change);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!RequestRules.IsId(agentId))
        {
            return NotFound(agentId);
        }
        var reply = await runner.Actor(agentId).UpdateState(change!);
        switch (reply.Outcome)
        {
            case Outcomes.NotFound:
                return NotFound(agentId);
            case Outcomes.Stale:
                http.Response.Headers.ETag = reply.Agent!.ETag;
                return Problem(StatusCodes.Status412PreconditionFailed, "etag-mismatch", "Changed meanwhile", reply.Detail!);
            case Outcomes.Draining:
                return Problem(StatusCodes.Status409Conflict, "draining", "Agent is being removed", reply.Detail!);
            case Outcomes.Mismatch:
                return Invalid(new Dictionary<string, string[]> { ["custom"] = [reply.Detail!] });
        }
        http.Response.Headers.ETag = reply.Agent!.ETag;
        return TypedResults.Ok(AgentView.Of(reply.Agent));
    }

    public static async Task<IResult> Heartbeat(string agentId, HttpContext http, WorkRunner runner)
    {
        if (!CallerIdentity.From(http.Request).MayActFor(agentId))
        {
            return Forbidden("An agent may beat only for itself.");
        }
        if (!RequestRules.IsId(agentId) || (await runner.Actor(agentId).Heartbeat()).Agent is not { } agent)
        {
            return NotFound(agentId);
        }
        return TypedResults.Ok(new { agentId = agent.Id, health = agent.Health, lastHeartbeat = agent.LastHeartbeat });
    }

    /// <summary>Drains, then removes: the agent stops taking work, coordination gives its open tasks to others, and only
    /// then is it forgotten. When coordination cannot be reached the agent is kept as it was and the answer is 503.</summary>
    public static async Task<IResult> Delete(string agentId, HttpContext http, WorkRunner runner, CoordinationClient coordination)
    {
        if (!CallerIdentity.From(http.Request).Privileged)
        {
            return Forbidden("Only admins and operators remove agents.");
        }
        if (!RequestRules.IsId(agentId))
        {
            return NotFound(agentId);
        }
        var actor = runner.Actor(agentId);
        if ((await actor.BeginDrain()).Outcome == Outcomes.NotFound)
        {
            return NotFound(agentId);
        }
        // Once draining has begun it is seen through, whatever the caller does: a caller that hung up mid-way would
        // otherwise leave the agent draining, refusing all work, until somebody repeated the DELETE.
        if (await coordination.DrainAsync(agentId, CancellationToken.None) != Handover.Done)
        {
            await actor.AbortDrain();
            http.Response.Headers.RetryAfter = "5";
            return Problem(StatusCodes.Status503ServiceUnavailable, "coordination-unavailable", "Coordination unavailable",
                $"Agent {agentId} was not removed: its open tasks could not be handed back to the coordination service. It keeps working as before; retry the DELETE later.");
        }
        await actor.Remove();
        return TypedResults.NoContent();
    }

    public static async Task<IResult> List(AgentDirectory directory, string? capability = null, string? status = null, string? label = null, string? cursor = null, int? limit = null, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > 500) { errors["limit"] = ["limit is between 1 and 500"]; }
        if (status is not null && status is not (AgentStatuses.Idle or AgentStatuses.Busy or AgentStatuses.Offline or AgentStatuses.Draining)) { errors["status"] = ["status is idle, busy, offline or draining"]; }
        string? labelKey = null, labelValue = null;
        if (label is not null)
        {
            var parts = label.Split(['=', ':'], 2);
            if (parts[0].Length == 0 || parts[0].Length > 64) { errors["label"] = ["label is key or key=value"]; }
            labelKey = parts[0];
            labelValue = parts.Length == 2 ? parts[1] : null;
        }
        if (capability is { Length: 0 or > 64 }) { errors["capability"] = ["capability is 1-64 characters"]; }
        if (cursor is { Length: > 100 }) { errors["cursor"] = ["cursor is the nextCursor of a previous page"]; }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var take = limit ?? 100;
        var matching = (await directory.AllAsync(ct))
            .Where(a => capability is null || a.Capabilities.Any(c => c.Name == capability))
            .Where(a => status is null || a.Status == status)
            .Where(a => labelKey is null || (a.Labels.TryGetValue(labelKey, out var v) && (labelValue is null || v == labelValue)))
            .Where(a => cursor is null || string.CompareOrdinal(a.Id, cursor) > 0)
            .Take(take + 1)
            .ToList();
        var page = matching.Take(take).Select(a => new AgentListItem(a.Id, a.Name, a.Kind, a.Status, a.Health, a.Load, a.ActiveTasks, a.MaxConcurrentTasks,
            a.Available, a.Capabilities, a.Labels)).ToList();
        return TypedResults.Ok(new AgentPage(page, matching.Count > take ? page[^1].Id : null));
    }

    public static async Task<IResult> Capabilities(AgentDirectory directory, CancellationToken ct)
    {
        var views = (await directory.AllAsync(ct))
            .SelectMany(a => a.Capabilities.Select(c => (Capability: c, Agent: a)))
            .GroupBy(x => x.Capability.Name, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var holders = g.OrderByDescending(x => x.Agent.Available).ThenByDescending(x => x.Capability.Proficiency).ThenBy(x => x.Agent.Id, StringComparer.Ordinal)
                    .Select(x => new CapabilityHolder(x.Agent.Id, x.Capability.Version, x.Capability.Proficiency, x.Agent.Status, x.Agent.Health, x.Agent.Load, x.Agent.Available))
                    .ToList();
                return new CapabilityView(g.Key, holders.Count, holders.Count(h => h.Available), holders);
            })
            .ToList();
        return TypedResults.Ok(views);
    }

    public static async Task<IResult> GetTask(string agentId, string taskId, HttpContext http, WorkRunner runner)
    {
        var caller = CallerIdentity.From(http.Request);
        if (caller.RestrictedToAgent is { } self && self != agentId)
        {
            return Forbidden("An agent may read only its own tasks.");
        }
        if (!RequestRules.IsId(agentId) || !IsWorkId(taskId) || (await runner.Actor(agentId).GetWork(taskId)).Work is not { } work)
        {
            return Problem(StatusCodes.Status404NotFound, "not-found", "Not found", $"Agent {agentId} has no task {taskId}.");
        }
        return TypedResults.Ok(WorkView.Of(agentId, work));
    }

    /// <summary>A person approves or rejects a paused task's tool call (all of its open ones when no approvalId is given):
    /// 200 with the task; the run goes on once none is open. Admins and operators only.</summary>
    public static async Task<IResult> Approve(string agentId, string taskId, ApprovalRequest request, HttpContext http, WorkRunner runner)
    {
        var caller = CallerIdentity.From(http.Request);
        if (!caller.Privileged)
        {
            return Forbidden("Only admins and operators approve tool calls.");
        }
        var errors = RequestRules.Approval(request);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!RequestRules.IsId(agentId) || !IsWorkId(taskId))
        {
            return NotFound(agentId);
        }
        var reply = await runner.Actor(agentId).Decide(taskId, new ApprovalDecision(request.ApprovalId, request.Approved!.Value, request.Reason, caller.Principal ?? "service"));
        return reply.Outcome switch
        {
            Outcomes.NotFound => Problem(StatusCodes.Status404NotFound, "not-found", "Not found", reply.Detail ?? $"Agent {agentId} has no task {taskId}."),
            Outcomes.Mismatch or Outcomes.Exists => Problem(StatusCodes.Status409Conflict, "conflict", "Not awaiting this decision", reply.Detail!),
            _ => TypedResults.Ok(WorkView.Of(agentId, reply.Work!)),
        };
    }

    /// <summary>An external agent's result for a task it was given: stored, then handed to coordination. 200 once coordination
    /// has it; 202 when it is stored but coordination could not take it yet (it is retried); 409 when coordination gave the
    /// task to another agent meanwhile.</summary>
    public static async Task<IResult> PostResult(string agentId, string taskId, TaskResultRequest request, HttpContext http, WorkRunner runner, CancellationToken ct)
    {
        if (!CallerIdentity.From(http.Request).MayActFor(agentId))
        {
            return Forbidden("An agent may post results only for its own tasks.");
        }
        var errors = RequestRules.Result(request, out var result);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!RequestRules.IsId(agentId) || !RequestRules.IsId(taskId))
        {
            return NotFound(agentId);
        }
        var reply = await runner.Actor(agentId).RecordResult(taskId, result!);
        switch (reply.Outcome)
        {
            case Outcomes.NotFound:
                return Problem(StatusCodes.Status404NotFound, "not-found", "Not found", reply.Detail ?? $"No agent {agentId}.");
            case Outcomes.Mismatch:
            case Outcomes.Exists:
                return Problem(StatusCodes.Status409Conflict, "conflict", "Result refused", reply.Detail!);
        }
        var work = reply.Work!;
        if (work.Report is not ReportStatuses.Pending)
        {
            return Answer(work);
        }
        var handover = await runner.ReportAsync(agentId, taskId, ct);
        if (handover == Handover.Rejected)
        {
            return Problem(StatusCodes.Status409Conflict, "task-reassigned", "Task reassigned",
                $"Coordination no longer expects task {taskId} from agent {agentId}: it was given to another agent.");
        }
        return Answer((await runner.Actor(agentId).GetWork(taskId)).Work ?? work);

        IResult Answer(WorkItem w) => w.Report switch
        {
            ReportStatuses.Done => TypedResults.Ok(new ResultAnswer(taskId, agentId, w.Status, "forwarded")),
            ReportStatuses.Rejected => Problem(StatusCodes.Status409Conflict, "task-reassigned", "Task reassigned", $"Coordination no longer expects task {taskId} from agent {agentId}."),
            _ => TypedResults.Accepted((string?)null, new ResultAnswer(taskId, agentId, w.Status, "pending")),
        };
    }

    public static bool IsWorkId(string id) => RequestRules.IsId(id) || (id.StartsWith("vote:", StringComparison.Ordinal) && RequestRules.IsId(id[5..]));

    public static IResult Invalid(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");

    public static IResult NotFound(string agentId) => Problem(StatusCodes.Status404NotFound, "not-found", "Not found", $"No agent {agentId}.");

    public static IResult Forbidden(string detail) => Problem(StatusCodes.Status403Forbidden, "forbidden", "Forbidden", detail);

    public static IResult Problem(int status, string type, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status, type: ProblemBase + type);
}
