using Microsoft.AspNetCore.Http;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Who a call acts for. The gateway authenticates the client, removes any identity headers the client sent, and
/// names the principal, its roles and its agent in these headers; a call between services through Dapr carries none.
/// Services check every route against this, so a call that slips past the gateway's route policy is still refused.
/// </summary>
public sealed record CallerIdentity(string? Principal, IReadOnlySet<string> Roles, string? AgentId)
{
    public const string PrincipalHeader = "X-AgenticFlow-Principal";
    public const string RolesHeader = "X-AgenticFlow-Roles";
    public const string AgentHeader = "X-AgenticFlow-Agent-Id";

    /// <summary>Headers only the gateway may set towards services; it drops them from every client request.</summary>
    public static readonly IReadOnlyList<string> EdgeHeaders = [PrincipalHeader, RolesHeader, AgentHeader];

    public const string Admin = "admin", Operator = "operator", Agent = "agent", Viewer = "viewer";

    public static CallerIdentity From(HttpRequest request)
    {
        var principal = request.Headers.TryGetValue(PrincipalHeader, out var p) ? p.ToString() : null;
        var roles = request.Headers[RolesHeader].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var agent = request.Headers[AgentHeader].ToString();
        return new CallerIdentity(principal, roles.ToHashSet(StringComparer.Ordinal), agent.Length > 0 ? agent : null);
    }

    /// <summary>The call came from a client through the gateway (not from another service).</summary>
    public bool FromEdge => Principal is not null;

    /// <summary>Services, admins and operators may act on any agent's behalf.</summary>
    public bool Privileged => !FromEdge || Roles.Contains(Admin) || Roles.Contains(Operator);

    /// <summary>The agent an unprivileged edge caller acts as (whatever other roles it also holds); null otherwise.</summary>
    public string? RestrictedToAgent => !Privileged && Roles.Contains(Agent) ? AgentId ?? "" : null;

    /// <summary>May act on <paramref name="agentId"/>'s queue or subscriptions: privileged callers, or that agent itself.</summary>
    public bool MayActFor(string agentId) => Privileged || (Roles.Contains(Agent) && AgentId is not null && AgentId == agentId);
}

/// <summary>The service-side half of the gateway's role check, for routes every role may reach.</summary>
public static class CallerIdentityEndpoints
{
    /// <summary>
    /// Refuses (403 problem) a call from the edge that names none of the platform's roles, so a route is never open to
    /// whoever reaches the service past the gateway's policy. Calls between services carry no identity and pass; each
    /// handler still checks what the caller's role may do.
    /// </summary>
    public static TBuilder RequirePlatformRole<TBuilder>(this TBuilder builder) where TBuilder : Microsoft.AspNetCore.Builder.IEndpointConventionBuilder =>
        Microsoft.AspNetCore.Http.EndpointFilterExtensions.AddEndpointFilter(builder, async (context, next) =>
        {
            var caller = CallerIdentity.From(context.HttpContext.Request);
            return caller.FromEdge && !caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent, CallerIdentity.Viewer])
                ? Forbidden("This call needs one of the platform's roles.")
                : await next(context);
        });

    /// <summary>
    /// For what people watch and agents may not read (traces and logs name every agent's calls, ids and keys): an edge
    /// call passes as an admin or operator, or as a viewer that is not also an agent (an agent that holds the viewer role
    /// is still an agent, as everywhere else). The gateway's policy for these routes says the same.
    /// </summary>
    public static TBuilder RequireObserver<TBuilder>(this TBuilder builder) where TBuilder : Microsoft.AspNetCore.Builder.IEndpointConventionBuilder =>
        Microsoft.AspNetCore.Http.EndpointFilterExtensions.AddEndpointFilter(builder, async (context, next) =>
        {
            var caller = CallerIdentity.From(context.HttpContext.Request);
            return caller.Privileged || (caller.Roles.Contains(CallerIdentity.Viewer) && caller.RestrictedToAgent is null)
                ? await next(context)
                : Forbidden("Traces and logs are read by admins, operators and viewers, not agents.");
        });

    private static IResult Forbidden(string detail) =>
        Results.Problem(title: "Forbidden", detail: detail, statusCode: StatusCodes.Status403Forbidden, type: Problems.Base + "forbidden");
}
