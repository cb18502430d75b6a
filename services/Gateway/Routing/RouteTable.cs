using AgenticFlow.Gateway.Security;
using Microsoft.AspNetCore.Authorization;
using Yarp.ReverseProxy.Configuration;

namespace AgenticFlow.Gateway.Routing;

/// <summary>
/// Which service owns which part of <c>/api/v1</c>, and who may call it. Each route is proxied to the owning
/// app through the gateway's Dapr sidecar (<c>/v1.0/invoke/{app-id}/method/...</c>), never to a service URL.
/// </summary>
public static class RouteTable
{
    public const string Readers = "readers";
    public const string Senders = "senders";
    public const string QueueOwner = "queue-owner";
    public const string Admins = "admins";

    public static readonly IReadOnlyList<(string Id, string AppId, string Path, string[] Methods, string Policy)> Routes =
    [
        ("messages-queue", "messaging", "/api/v1/messages/queue/{agentId}/{**rest}", ["GET", "POST"], QueueOwner),
        ("messages-queue-root", "messaging", "/api/v1/messages/queue/{agentId}", ["GET"], QueueOwner),
        ("messages-send", "messaging", "/api/v1/messages", ["POST"], Senders),
        ("messages-read", "messaging", "/api/v1/messages/{messageId}", ["GET"], Readers),
        ("subscribe-write", "messaging", "/api/v1/subscribe/{**rest}", ["POST", "DELETE"], Senders),
        ("subscribe-read", "messaging", "/api/v1/subscribe/{**rest}", ["GET"], Readers),
        ("providers-complete", "providers", "/api/v1/providers/complete", ["POST"], Senders),
        ("providers-config", "providers", "/api/v1/providers/{id}/config", ["PUT"], Admins),
        ("providers-read", "providers", "/api/v1/providers/{**rest}", ["GET"], Readers),
        ("openai-chat", "providers", "/v1/chat/completions", ["POST"], Senders),
        ("openai-models", "providers", "/v1/models", ["GET"], Readers),
        // Batch forms, with the single forms' policies; acking many (POST /api/v1/messages/queue/{agentId}/ack) is
        // already under messages-queue.
        ("messages-send-batch", "messaging", "/api/v1/messages/batch", ["POST"], Senders),
    ];

    public static IReadOnlyList<RouteConfig> ProxyRoutes() => Routes.Select((r, i) => new RouteConfig
    {
        RouteId = r.Id,
        ClusterId = r.AppId,
        Order = i,
        AuthorizationPolicy = r.Policy,
        Match = new RouteMatch { Path = r.Path, Methods = r.Methods },
    }).ToList();

    public static IReadOnlyList<ClusterConfig> Clusters(string daprHttpEndpoint) => Routes.Select(r => r.AppId).Distinct().Select(appId => new ClusterConfig
    {
        ClusterId = appId,
        Destinations = new Dictionary<string, DestinationConfig>
        {
            ["sidecar"] = new() { Address = $"{daprHttpEndpoint.TrimEnd('/')}/v1.0/invoke/{appId}/method/" },
        },
        HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(100) },
    }).ToList();

    public static void AddPolicies(AuthorizationOptions options)
    {
        options.AddPolicy(Readers, p => p.RequireRole(Roles.Admin, Roles.Operator, Roles.Agent, Roles.Viewer));
        options.AddPolicy(Senders, p => p.RequireRole(Roles.Admin, Roles.Operator, Roles.Agent));
        options.AddPolicy(QueueOwner, p => p.AddRequirements(new QueueOwnerRequirement()));
        options.AddPolicy(Admins, p => p.RequireRole(Roles.Admin));
    }
}

/// <summary>Admins and operators may use any queue; an agent only its own.</summary>
public sealed class QueueOwnerRequirement : AuthorizationHandler<QueueOwnerRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, QueueOwnerRequirement requirement)
    {
        if (context.User.IsInRole(Roles.Admin) || context.User.IsInRole(Roles.Operator))
        {
            context.Succeed(requirement);
        }
        else if (context.User.IsInRole(Roles.Agent) && context.Resource is HttpContext http
            && http.GetRouteValue("agentId") is string agentId
            && context.User.FindFirst(Roles.AgentIdClaim)?.Value == agentId)
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}
