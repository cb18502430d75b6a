using AgenticFlow.Memory.Graph;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Memory.Apis;

/// <summary>Who may touch whose memory, checked in the service as well as by the gateway's route policies:
/// an agent reads and writes only its own memory; viewers read; admins, operators and other services do anything.</summary>
public static class Access
{
    public static bool MayWrite(this CallerIdentity caller, string agentId) => caller.MayActFor(agentId);

    public static bool MayRead(this CallerIdentity caller, string agentId) =>
        caller.MayActFor(agentId) || (caller.RestrictedToAgent is null && caller.Roles.Contains(CallerIdentity.Viewer));

    /// <summary>A caller that may read everything (admins, operators, services, viewers that are not agents).</summary>
    public static bool ReadsAll(this CallerIdentity caller) =>
        caller.Privileged || (caller.RestrictedToAgent is null && caller.Roles.Contains(CallerIdentity.Viewer));

    public static bool IsViewerOnly(this CallerIdentity caller) => !caller.Privileged && caller.RestrictedToAgent is null;

    /// <summary>The graph edges a caller sees: an agent only those it asserted; everyone else all of them.</summary>
    public static Func<Relation, bool> Visible(this CallerIdentity caller) =>
        caller.RestrictedToAgent is { } agent ? r => r.Provenance.Any(p => p.AgentId == agent) : _ => true;

    /// <summary>Provenance as the caller may see it: an agent sees only its own entries.</summary>
    public static IReadOnlyList<Provenance> Shown(this CallerIdentity caller, IEnumerable<Provenance> provenance) =>
        caller.RestrictedToAgent is { } agent ? provenance.Where(p => p.AgentId == agent).ToList() : provenance.ToList();

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(title: "Forbidden", detail: detail, statusCode: StatusCodes.Status403Forbidden, type: Problems.Base + "forbidden");

    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors, type: Problems.Base + "validation");

    public static ProblemDetails NotFound(string detail) => new()
    {
        Title = "Not found", Detail = detail, Status = StatusCodes.Status404NotFound, Type = Problems.Base + "not-found",
    };
}
