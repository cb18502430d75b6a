using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.Coordination.Workflows;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Domain;

public sealed record NewTeam(string Name, List<string> Members, List<Requirement> Requirements, string Strategy);

public enum FormationStatus { Formed, Failed, Forming }

public sealed record Formation(FormationStatus Status, string TeamId, TeamBoard? Team, string? Reason);

public enum MembersChange { Done, UnknownTeam, TeamClosed, AgentUnavailable, AgentTaken }

/// <summary>Teams: formation through the <see cref="TeamFormationWorkflow"/> saga, reads, member changes, disbanding.</summary>
public sealed class TeamService(
    CoordinationStore store,
    IAgentsClient agents,
    DaprWorkflowClient workflows,
    TaskCoordinator tasks,
    DaprClient dapr,
    IOptions<CoordinationOptions> options,
    TimeProvider time,
    ILogger<TeamService> logger)
{
    public async Task<Formation> FormAsync(NewTeam team, CancellationToken ct)
    {
        var teamId = Guid.CreateVersion7(time.GetUtcNow()).ToString("N");
        var request = new FormationRequest(teamId, team.Name, team.Strategy, team.Members, team.Requirements, time.GetUtcNow());
        var instance = TeamFormationWorkflow.InstanceId(teamId);
        await workflows.ScheduleNewWorkflowAsync(nameof(TeamFormationWorkflow), instance, request);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(options.Value.FormationWaitSeconds));
        try
        {
            var state = await workflows.WaitForWorkflowCompletionAsync(instance, getInputsAndOutputs: true, wait.Token);
            var result = state?.ReadOutputAs<FormationResult>();
            var board = await store.GetTeamAsync(teamId, ct);
            return result?.Formed == true
                ? new Formation(FormationStatus.Formed, teamId, board, null)
                : new Formation(FormationStatus.Failed, teamId, board, result?.Reason ?? board?.FailureReason ?? "formation did not finish");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new Formation(FormationStatus.Forming, teamId, null, null);
        }
    }

    /// <summary>The team, or while its formation still runs a placeholder saying so; null when there is no such team.</summary>
    public async Task<TeamBoard?> GetAsync(string teamId, CancellationToken ct)
    {
        if (await store.GetTeamAsync(teamId, ct) is { } board)
        {
            return board;
        }
        var state = await workflows.GetWorkflowStateAsync(TeamFormationWorkflow.InstanceId(teamId), getInputsAndOutputs: true, ct);
        if (state is not { Exists: true } || state.ReadInputAs<FormationRequest>() is not { } request)
        {
            return null;
        }
        return new TeamBoard { Id = teamId, Name = request.Name, Strategy = request.Strategy, Status = TeamStatus.Forming, Requirements = request.Requirements, CreatedAt = request.RequestedAt };
    }

    public async Task<IReadOnlyList<TeamBoard>> ListAsync(string? status, CancellationToken ct)
    {
        var teams = await store.GetTeamsAsync(await store.TeamIdsAsync(ct), ct);
        return teams.Where(t => status is null || t.Status == status).ToList();
    }

    /// <summary>Adds and removes members. An added agent is reserved first (it may belong to one team only); one
    /// removed gives back its open tasks, which go to the remaining members.</summary>
    public async Task<(MembersChange Status, string? Detail)> ChangeMembersAsync(string teamId, IReadOnlyList<string> add, IReadOnlyList<string> remove, CancellationToken ct)
    {
        if (await store.GetTeamAsync(teamId, ct) is not { } current)
        {
            return (MembersChange.UnknownTeam, null);
        }
        if (!current.IsOpen)
        {
            return (MembersChange.TeamClosed, $"team {teamId} is {current.Status}");
        }
        var now = time.GetUtcNow();
        var joining = new List<AgentInfo>();
        try
        {
            foreach (var agentId in add.Where(a => current.Member(a) is null).Distinct(StringComparer.Ordinal))
            {
                var agent = await agents.GetAsync(agentId, ct);
                if (agent is not { Usable: true })
                {
                    await store.ReleaseAsync(joining.Select(j => j.Id), teamId, ct);
                    return (MembersChange.AgentUnavailable, agent is null ? $"agent {agentId} is not registered" : $"agent {agentId} cannot join a team now (status {agent.Status}, health {agent.Health})");
                }
                if (!await store.ReserveAsync(agentId, teamId, now, ct))
                {
                    await store.ReleaseAsync(joining.Select(j => j.Id), teamId, ct);
                    return (MembersChange.AgentTaken, $"agent {agentId} already belongs to another team");
                }
                joining.Add(agent);
            }
        }
        catch (Exception) when (joining.Count > 0)
        {
            // A lookup or reservation failed mid-way (or the caller left): the agents reserved so far must not stay
            // reserved for a change that never happens.
            await store.ReleaseAsync(joining.Select(j => j.Id), teamId, CancellationToken.None);
            throw;
        }
        var outcome = await tasks.ApplyMembersAsync(teamId, remove, joining, ct);
        if (outcome != MembersChange.Done)
        {
            await store.ReleaseAsync(joining.Select(j => j.Id), teamId, ct);
        }
        return (outcome, null);
    }

    /// <summary>Ends a team: its waiting and open tasks fail, and its members are free to join other teams.</summary>
    public async Task<bool> DisbandAsync(string teamId, CancellationToken ct)
    {
        var found = await tasks.DisbandAsync(teamId, ct);
        if (found)
        {
            await dapr.TryPublishEventAsync(options.Value.PubSub, CoordinationEvents.TeamDisbanded, new { teamId, at = time.GetUtcNow() }, logger);
        }
        return found;
    }
}
