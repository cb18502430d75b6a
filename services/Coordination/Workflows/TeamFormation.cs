using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Workflows;

public sealed record FormationRequest(string TeamId, string Name, string Strategy, List<string> Members, List<Requirement> Requirements, DateTimeOffset RequestedAt);

public sealed record FormationResult(bool Formed, string? Reason, List<string> Members);

public sealed record Reservation(bool Ok, List<AgentInfo> Reserved, string? Reason);

public sealed record ReserveNamed(string TeamId, List<string> Members);

public sealed record ReserveForRequirement(string TeamId, Requirement Requirement, List<string> AlreadyChosen);

public sealed record CreateTeam(FormationRequest Request, List<AgentInfo> Members);

public sealed record ReleaseTeamReservations(string TeamId, List<string> Candidates, List<string> Capabilities);

public sealed record RecordFormationFailure(FormationRequest Request, string Reason);

/// <summary>
/// Forming a team is a saga: reserve the named members, then for each requirement reserve the best free agents
/// that meet it, then create the team. When any step cannot be done, everything reserved so far is released and
/// the failure is recorded, so no agent is left reserved by a team that does not exist.
/// </summary>
public sealed class TeamFormationWorkflow : Workflow<FormationRequest, FormationResult>
{
    public static string InstanceId(string teamId) => "formation-" + teamId;

    private static readonly WorkflowTaskOptions Retry = new(new WorkflowRetryPolicy(5, TimeSpan.FromMilliseconds(500), 2, TimeSpan.FromSeconds(10)));

    public override async Task<FormationResult> RunAsync(WorkflowContext context, FormationRequest request)
    {
        var reserved = new List<AgentInfo>();
        try
        {
            if (request.Members.Count > 0)
            {
                var named = await context.CallActivityAsync<Reservation>(nameof(ReserveNamedMembersActivity), new ReserveNamed(request.TeamId, request.Members), Retry);
                reserved.AddRange(named.Reserved);
                if (!named.Ok)
                {
                    return await CompensateAsync(context, request, reserved, named.Reason ?? "named members could not be reserved");
                }
            }
            foreach (var requirement in request.Requirements)
            {
                var chosen = reserved.Select(a => a.Id).ToList();
                var found = await context.CallActivityAsync<Reservation>(nameof(ReserveForRequirementActivity), new ReserveForRequirement(request.TeamId, requirement, chosen), Retry);
                reserved.AddRange(found.Reserved);
                if (!found.Ok)
                {
                    return await CompensateAsync(context, request, reserved, found.Reason ?? $"requirement {requirement.Capability} could not be met");
                }
            }
            await context.CallActivityAsync<bool>(nameof(CreateTeamActivity), new CreateTeam(request, reserved), Retry);
            return new FormationResult(true, null, reserved.Select(a => a.Id).ToList());
        }
        catch (WorkflowTaskFailedException ex)
        {
            return await CompensateAsync(context, request, reserved, "formation step failed: " + ex.Message);
        }
    }

    private static async Task<FormationResult> CompensateAsync(WorkflowContext context, FormationRequest request, List<AgentInfo> reserved, string reason)
    {
        // Every agent this formation may have touched: a step that failed half way may have reserved agents it never reported.
        var candidates = reserved.Select(a => a.Id).Concat(request.Members).Distinct(StringComparer.Ordinal).ToList();
        await context.CallActivityAsync<bool>(nameof(ReleaseReservationsActivity),
            new ReleaseTeamReservations(request.TeamId, candidates, request.Requirements.Select(r => r.Capability).Distinct().ToList()), Retry);
        await context.CallActivityAsync<bool>(nameof(RecordFormationFailureActivity), new RecordFormationFailure(request, reason), Retry);
        return new FormationResult(false, reason, []);
    }
}

internal sealed class ReserveNamedMembersActivity(IAgentsClient agents, CoordinationStore store, TimeProvider time) : WorkflowActivity<ReserveNamed, Reservation>
{
    public override async Task<Reservation> RunAsync(WorkflowActivityContext context, ReserveNamed input)
    {
        var reserved = new List<AgentInfo>();
        foreach (var agentId in input.Members)
        {
            var agent = await agents.GetAsync(agentId, CancellationToken.None);
            string? problem = agent switch
            {
                null => $"agent {agentId} is not registered",
                { Usable: false } => $"agent {agentId} cannot join a team now (status {agent.Status}, health {agent.Health})",
                _ => null,
            };
            if (problem is null && !await store.ReserveAsync(agentId, input.TeamId, time.GetUtcNow(), CancellationToken.None))
            {
                var holder = await store.GetMembershipAsync(agentId, CancellationToken.None);
                problem = $"agent {agentId} already belongs to team {holder?.TeamId}";
            }
            if (problem is not null)
            {
                return new Reservation(false, reserved, problem);
            }
            reserved.Add(agent!);
        }
        return new Reservation(true, reserved, null);
    }
}

internal sealed class ReserveForRequirementActivity(IAgentsClient agents, CoordinationStore store, TimeProvider time) : WorkflowActivity<ReserveForRequirement, Reservation>
{
    public override async Task<Reservation> RunAsync(WorkflowActivityContext context, ReserveForRequirement input)
    {
        var requirement = input.Requirement;
        var candidates = (await agents.FindAsync(requirement.Capability, CancellationToken.None))
            .Where(a => a.Usable && !input.AlreadyChosen.Contains(a.Id))
            .Select(a => (Agent: a, Proficiency: a.Capabilities.Where(c => c.Name == requirement.Capability).Select(c => c.Proficiency).DefaultIfEmpty(-1).Max()))
            .Where(c => c.Proficiency >= requirement.MinProficiency)
            .OrderByDescending(c => c.Proficiency).ThenBy(c => c.Agent.Id, StringComparer.Ordinal)
            .ToList();
        var reserved = new List<AgentInfo>();
        foreach (var (agent, _) in candidates)
        {
            if (reserved.Count == requirement.Count)
            {
                break;
            }
            // An agent another team holds is skipped; one this team already holds (a retried step) counts.
            if (await store.ReserveAsync(agent.Id, input.TeamId, time.GetUtcNow(), CancellationToken.None))
            {
                reserved.Add(agent);
            }
        }
        return reserved.Count == requirement.Count
            ? new Reservation(true, reserved, null)
            : new Reservation(false, reserved,
                $"requirement {requirement.Capability}: {requirement.Count} agents at proficiency {requirement.MinProficiency} or more are needed, {reserved.Count} are registered, healthy and not in another team");
    }
}

internal sealed class CreateTeamActivity(CoordinationStore store, DaprClient dapr, IOptions<CoordinationOptions> options, TimeProvider time, ILogger<CreateTeamActivity> logger)
    : WorkflowActivity<CreateTeam, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, CreateTeam input)
    {
        var now = time.GetUtcNow();
        var request = input.Request;
        var board = new TeamBoard
        {
            Id = request.TeamId,
            Name = request.Name,
            Strategy = request.Strategy,
            Status = TeamStatus.Active,
            Requirements = request.Requirements,
            CreatedAt = request.RequestedAt,
            Members = input.Members.Select(a => TeamMembers.From(a, now)).ToList(),
        };
        // Insert only: a retried step finds the team already there and is done.
        await store.InsertTeamAsync(board, input.Members.Select(a => store.Join(a.Id, request.TeamId, now)), CancellationToken.None);
        await dapr.TryPublishEventAsync(options.Value.PubSub, CoordinationEvents.TeamFormed,
            new { teamId = board.Id, name = board.Name, strategy = board.Strategy, members = board.Members.Select(m => m.AgentId), at = now }, logger);
        return true;
    }
}

internal sealed class ReleaseReservationsActivity(IAgentsClient agents, CoordinationStore store) : WorkflowActivity<ReleaseTeamReservations, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, ReleaseTeamReservations input)
    {
        var candidates = new HashSet<string>(input.Candidates, StringComparer.Ordinal);
        foreach (var capability in input.Capabilities)
        {
            candidates.UnionWith((await agents.FindAsync(capability, CancellationToken.None)).Select(a => a.Id));
        }
        // Only agents whose reservation names this team are released; another team's stay.
        await store.ReleaseAsync(candidates, input.TeamId, CancellationToken.None);
        return true;
    }
}

internal sealed class RecordFormationFailureActivity(CoordinationStore store, DaprClient dapr, IOptions<CoordinationOptions> options, TimeProvider time, ILogger<RecordFormationFailureActivity> logger)
    : WorkflowActivity<RecordFormationFailure, bool>
{
    public override async Task<bool> RunAsync(WorkflowActivityContext context, RecordFormationFailure input)
    {
        var request = input.Request;
        var board = new TeamBoard
        {
            Id = request.TeamId,
            Name = request.Name,
            Strategy = request.Strategy,
            Status = TeamStatus.Failed,
            Requirements = request.Requirements,
            CreatedAt = request.RequestedAt,
            FailureReason = input.Reason,
        };
        await store.InsertTeamAsync(board, [], CancellationToken.None);
        await dapr.TryPublishEventAsync(options.Value.PubSub, CoordinationEvents.TeamFormationFailed,
            new { teamId = board.Id, name = board.Name, reason = input.Reason, at = time.GetUtcNow() }, logger);
        return true;
    }
}
