using AgenticFlow.Coordination.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using static AgenticFlow.Coordination.Apis.CoordinationProblems;

namespace AgenticFlow.Coordination.Apis;

/// <summary>Teams: <c>/api/v1/teams</c>. Forming, changing and disbanding are for admins, operators and services;
/// reading is for every role.</summary>
public static class TeamsApi
{
    public static RouteGroupBuilder MapTeamsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/teams").WithTags("Teams");
        api.MapPost("/", Create).WithName("CreateTeam");
        api.MapGet("/", List).WithName("ListTeams");
        api.MapGet("/{teamId}", Get).WithName("GetTeam");
        api.MapPost("/{teamId}/members", ChangeMembers).WithName("ChangeTeamMembers");
        api.MapDelete("/{teamId}", Disband).WithName("DisbandTeam");
        api.MapGet("/{teamId}/status", Status).WithName("GetTeamStatus");
        return api;
    }

    public static async Task<Results<Created<TeamView>, Accepted<TeamView>, ValidationProblem, ProblemHttpResult>> Create(
        CreateTeamRequest request, HttpRequest http, TeamService teams, IOptions<CoordinationOptions> options, CancellationToken ct)
    {
        if (!CallerIdentity.From(http).Privileged)
        {
            return Refused("Only admins, operators and services form teams.");
        }
        var errors = Validation.Check(request, options.Value.MaxTeamMembers, out var team);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var formation = await teams.FormAsync(team!, ct);
        var location = $"/api/v1/teams/{formation.TeamId}";
        return formation.Status switch
        {
            FormationStatus.Formed when formation.Team is { } board => TypedResults.Created(location, TeamView.Of(board)),
            FormationStatus.Failed => Conflict(FormationFailed, "Team could not be formed",
                $"{formation.Reason}. Nothing stays reserved; GET {location} shows the failed formation.", new Dictionary<string, object?> { ["teamId"] = formation.TeamId }),
            _ => TypedResults.Accepted(location, new TeamView(formation.TeamId, team!.Name, team.Strategy, TeamStatus.Forming, [], team.Requirements, DateTimeOffset.UtcNow, null, null)),
        };
    }

    public static async Task<Results<Ok<TeamList>, ValidationProblem, ProblemHttpResult>> List(HttpRequest http, TeamService teams, CancellationToken ct, string? status = null)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading teams needs a role.");
        }
        if (status is not null && status is not (TeamStatus.Active or TeamStatus.Failed or TeamStatus.Disbanded))
        {
            return Invalid("status", "status must be active, failed or disbanded");
        }
        return TypedResults.Ok(new TeamList((await teams.ListAsync(status, ct)).Select(TeamView.Of).ToList()));
    }

    public static async Task<Results<Ok<TeamView>, ProblemHttpResult>> Get(string teamId, HttpRequest http, TeamService teams, CancellationToken ct)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading teams needs a role.");
        }
        return Validation.IsName(teamId) && await teams.GetAsync(teamId, ct) is { } board
            ? TypedResults.Ok(TeamView.Of(board))
            : Missing($"No team {teamId}.");
    }

    public static async Task<Results<Ok<TeamView>, ValidationProblem, ProblemHttpResult>> ChangeMembers(
        string teamId, ChangeMembersRequest request, HttpRequest http, TeamService teams, IOptions<CoordinationOptions> options, CancellationToken ct)
    {
        if (!CallerIdentity.From(http).Privileged)
        {
            return Refused("Only admins, operators and services change a team's members.");
        }
        var errors = Validation.Check(request, options.Value.MaxTeamMembers);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (!Validation.IsName(teamId))
        {
            return Missing($"No team {teamId}.");
        }
        var (status, detail) = await teams.ChangeMembersAsync(teamId, request.Add ?? [], request.Remove ?? [], ct);
        return status switch
        {
            MembersChange.UnknownTeam => Missing($"No team {teamId}."),
            MembersChange.TeamClosed => Conflict(TeamClosed, "Team is not active", detail ?? $"Team {teamId} is not active."),
            MembersChange.AgentUnavailable => Conflict(AgentUnavailable, "Agent cannot join", detail ?? "An agent cannot join."),
            MembersChange.AgentTaken => Conflict(AgentTaken, "Agent belongs to another team", detail ?? "An agent belongs to another team."),
            _ => TypedResults.Ok(TeamView.Of((await teams.GetAsync(teamId, ct))!)),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Disband(string teamId, HttpRequest http, TeamService teams, CancellationToken ct)
    {
        if (!CallerIdentity.From(http).Privileged)
        {
            return Refused("Only admins, operators and services disband teams.");
        }
        return Validation.IsName(teamId) && await teams.DisbandAsync(teamId, ct) ? TypedResults.NoContent() : Missing($"No team {teamId}.");
    }

    public static async Task<Results<Ok<TeamStatusView>, ProblemHttpResult>> Status(string teamId, HttpRequest http, TeamService teams, TimeProvider time, CancellationToken ct)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading teams needs a role.");
        }
        return Validation.IsName(teamId) && await teams.GetAsync(teamId, ct) is { } board
            ? TypedResults.Ok(TeamStatusView.Of(board, time.GetUtcNow()))
            : Missing($"No team {teamId}.");
    }
}
