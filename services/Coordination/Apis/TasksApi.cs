using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using static AgenticFlow.Coordination.Apis.CoordinationProblems;

namespace AgenticFlow.Coordination.Apis;

/// <summary>A team's tasks: <c>/api/v1/teams/{teamId}/tasks</c>. Admins, operators, services and the team's own
/// agents submit; every role reads.</summary>
public static class TasksApi
{
    public static RouteGroupBuilder MapTasksApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/teams/{teamId}/tasks").WithTags("Tasks");
        api.MapPost("/", Submit).WithName("SubmitTask");
        api.MapGet("/", List).WithName("ListTasks");
        api.MapGet("/{taskId}", Get).WithName("GetTask");
        return api;
    }

    public static async Task<Results<Accepted<TaskAccepted>, ValidationProblem, ProblemHttpResult>> Submit(
        string teamId, SubmitTaskRequest request, HttpRequest http, TaskCoordinator tasks, CoordinationStore store,
        IOptions<CoordinationOptions> options, TimeProvider time, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!caller.Privileged && caller.RestrictedToAgent is null)
        {
            return Refused("Tasks are submitted by admins, operators, services and the team's agents.");
        }
        var errors = Validation.Check(request, options.Value.MaxInputBytes, time.GetUtcNow(), out var task);
        var key = http.Headers["Idempotency-Key"].ToString();
        if (key.Length > 200)
        {
            errors["Idempotency-Key"] = ["the Idempotency-Key header holds at most 200 characters"];
        }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!Validation.IsName(teamId))
        {
            return Missing($"No team {teamId}.");
        }
        if (caller.RestrictedToAgent is { } agent && (await store.GetMembershipAsync(agent, ct))?.TeamId != teamId)
        {
            return Refused("An agent submits tasks only to its own team.");
        }
        // A key names one submission of one caller: another caller's key never suppresses a task.
        var scopedKey = key.Length == 0 ? null : $"{caller.Principal ?? "service"}\n{key}";
        var result = await tasks.SubmitAsync(teamId, task!, ct, scopedKey);
        if (result.Status == SubmitStatus.Replayed)
        {
            http.HttpContext.Response.Headers["Idempotent-Replayed"] = "true";
        }
        return result.Status switch
        {
            SubmitStatus.UnknownTeam => Missing($"No team {teamId}."),
            SubmitStatus.TeamClosed => Conflict(TeamClosed, "Team is not active", $"Team {teamId} takes no tasks: it is not active."),
            _ => TypedResults.Accepted($"/api/v1/teams/{teamId}/tasks/{result.Task!.Id}", new TaskAccepted(result.Task.Id, teamId, result.Task.State, result.Task.AgentId)),
        };
    }

    public static async Task<Results<Ok<TaskPage>, ValidationProblem, ProblemHttpResult>> List(
        string teamId, HttpRequest http, TaskCoordinator tasks, CoordinationStore store, CancellationToken ct,
        string? state = null, long? cursor = null, int limit = 50)
    {
        var caller = CallerIdentity.From(http);
        if (!MayRead(caller))
        {
            return Refused("Reading tasks needs a role.");
        }
        var errors = new Dictionary<string, string[]>();
        if (state is not null && state is not (TaskState.Pending or TaskState.Assigned or TaskState.Running or TaskState.Completed or TaskState.Failed))
        {
            errors["state"] = ["state must be pending, assigned, running, completed or failed"];
        }
        if (limit is < 1 or > 500)
        {
            errors["limit"] = ["limit must be between 1 and 500"];
        }
        if (cursor is < 1)
        {
            errors["cursor"] = ["cursor is the nextCursor of the previous page"];
        }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!Validation.IsName(teamId) || await store.GetTeamAsync(teamId, ct) is not { } board)
        {
            return Missing($"No team {teamId}.");
        }
        if (await OtherTeamAsync(caller, teamId, store, ct))
        {
            return Refused(OwnTeamOnly);
        }
        var page = await tasks.ListAsync(board, state, cursor, limit, ct);
        var next = page.Count == limit && page[^1].Sequence > 1 ? page[^1].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new TaskPage(page.Select(TaskView.Of).ToList(), next));
    }

    public static async Task<Results<Ok<TaskView>, ProblemHttpResult>> Get(string teamId, string taskId, HttpRequest http, CoordinationStore store, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!MayRead(caller))
        {
            return Refused("Reading tasks needs a role.");
        }
        if (await OtherTeamAsync(caller, teamId, store, ct))
        {
            return Refused(OwnTeamOnly);
        }
        return Validation.IsName(taskId) && await store.GetTaskAsync(taskId, ct) is { } task && task.TeamId == teamId
            ? TypedResults.Ok(TaskView.Of(task))
            : Missing($"No task {taskId} in team {teamId}.");
    }

    private const string OwnTeamOnly = "An agent reads the tasks of its own team only (their inputs and outputs are that team's).";

    /// <summary>True for an agent caller that is no member of <paramref name="teamId"/>; people with a role and services read every team.</summary>
    private static async Task<bool> OtherTeamAsync(CallerIdentity caller, string teamId, CoordinationStore store, CancellationToken ct) =>
        caller.RestrictedToAgent is { } agent && (await store.GetMembershipAsync(agent, ct))?.TeamId != teamId;
}
