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
    /// <summary>People who watch the platform (admins, operators, viewers), not agents.</summary>
    public const string Observers = "observers";
    public const string Senders = "senders";
    public const string QueueOwner = "queue-owner";
    public const string Admins = "admins";
    public const string Operators = "operators";
    public const string AgentOwner = "agent-owner";
    public const string AgentReader = "agent-reader";
    public const string Registrars = "registrars";

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
        // Memory: the fixed paths first, so no agent id can shadow them; then one agent's memory, its own or read by viewers.
        ("memory-query", "memory", "/api/v1/memory/query", ["POST"], Readers),
        ("memory-index", "memory", "/api/v1/memory/index/stats", ["GET"], Readers),
        ("memory-graph-read", "memory", "/api/v1/memory/knowledge-graph", ["GET"], Readers),
        ("memory-graph-write", "memory", "/api/v1/memory/knowledge-graph/{part}", ["POST"], Senders),
        ("memory-cache-read", "memory", "/api/v1/memory/cache/{key}", ["GET"], Readers),
        ("memory-cache-write", "memory", "/api/v1/memory/cache/{key}", ["PUT", "DELETE"], Senders),
        ("memory-agent", "memory", "/api/v1/memory/{agentId}", ["POST", "DELETE"], AgentOwner),
        ("memory-agent-delete", "memory", "/api/v1/memory/{agentId}/{memoryId}", ["DELETE"], AgentOwner),
        ("memory-agent-read", "memory", "/api/v1/memory/{agentId}/{**rest}", ["GET"], AgentReader),
        ("teams-create", "coordination", "/api/v1/teams", ["POST"], Operators),
        ("teams-list", "coordination", "/api/v1/teams", ["GET"], Readers),
        ("team-tasks-submit", "coordination", "/api/v1/teams/{teamId}/tasks", ["POST"], Senders),
        ("team-members", "coordination", "/api/v1/teams/{teamId}/members", ["POST"], Operators),
        ("team-disband", "coordination", "/api/v1/teams/{teamId}", ["DELETE"], Operators),
        ("teams-read", "coordination", "/api/v1/teams/{**rest}", ["GET"], Readers),
        ("consensus-start", "coordination", "/api/v1/coordination/consensus", ["POST"], Senders),
        ("consensus-vote", "coordination", "/api/v1/coordination/consensus/{roundId}/votes", ["POST"], Senders),
        ("consensus-read", "coordination", "/api/v1/coordination/consensus/{roundId}", ["GET"], Readers),
        // An agent changes only its own state and heartbeat and posts only its own results; viewers read.
        ("agents-state", "agents", "/api/v1/agents/{agentId}/state", ["PUT"], AgentOwner),
        ("agents-heartbeat", "agents", "/api/v1/agents/{agentId}/heartbeat", ["POST"], AgentOwner),
        ("agents-result", "agents", "/api/v1/agents/{agentId}/tasks/{taskId}/result", ["POST"], AgentOwner),
        ("agents-register", "agents", "/api/v1/agents", ["POST"], Registrars),
        ("agents-delete", "agents", "/api/v1/agents/{agentId}", ["DELETE"], Registrars),
        ("agents-read", "agents", "/api/v1/agents/{**rest}", ["GET"], Readers),
        // Batch forms, with the single forms' policies; acking many (POST /api/v1/messages/queue/{agentId}/ack) is
        // already under messages-queue.
        ("messages-send-batch", "messaging", "/api/v1/messages/batch", ["POST"], Senders),
        // Monitoring: every role reads metrics, health and alerts; traces and logs only people (admins, operators,
        // viewers): they name every agent's calls, ids, state keys and actor ids, and an agent may read only its own
        // queue and memory. Agents and operators write metric points; operators manage alert rules. Telemetry intake
        // (/v1/*, /api/v2/spans) is not routed: it comes through the services' sidecars.
        ("metrics-read", "monitoring", "/api/v1/metrics", ["GET"], Readers),
        ("metrics-write", "monitoring", "/api/v1/metrics", ["POST"], Senders),
        ("traces-read", "monitoring", "/api/v1/traces/{**rest}", ["GET"], Observers),
        ("logs-read", "monitoring", "/api/v1/logs", ["GET"], Observers),
        ("health-read", "monitoring", "/api/v1/health", ["GET"], Readers),
        ("alerts-write", "monitoring", "/api/v1/alerts/{**rest}", ["POST", "DELETE"], Operators),
        ("alerts-read", "monitoring", "/api/v1/alerts/{**rest}", ["GET"], Readers),
        ("monitoring-stream", "monitoring", "/api/v1/monitoring/{**rest}", ["GET"], Readers),
        // Interop (#18): a person (admin or operator) approves or rejects an llm agent's paused tool call.
        ("agents-approvals", "agents", "/api/v1/agents/{agentId}/tasks/{taskId}/approvals", ["POST"], Operators),
        // Neural: operators train, upload and deploy; agents (and operators) infer; every role reads the registry.
        ("models-train", "neural", "/api/v1/models/train", ["POST"], Operators),
        ("models-inference", "neural", "/api/v1/models/inference", ["POST"], Senders),
        ("models-job-cancel", "neural", "/api/v1/models/jobs/{jobId}/cancel", ["POST"], Operators),
        ("models-task-router", "neural", "/api/v1/models/task-router/retrain", ["POST"], Operators),
        ("models-upload", "neural", "/api/v1/models/{id}/versions", ["POST"], Operators),
        ("models-deploy", "neural", "/api/v1/models/{id}/deploy", ["PUT"], Operators),
        ("models-list", "neural", "/api/v1/models", ["GET"], Readers),
        ("models-read", "neural", "/api/v1/models/{**rest}", ["GET"], Readers),
        // Workflows: admins and operators define, execute, cancel, suspend and resume; agents may raise events on runs
        // they take part in (the service checks which); every role reads.
        ("workflows-execute", "workflows", "/api/v1/workflows/{id}/execute", ["POST"], Operators),
        ("workflows-cancel", "workflows", "/api/v1/workflows/{runId}/cancel", ["PUT"], Operators),
        ("workflows-suspend", "workflows", "/api/v1/workflows/{runId}/suspend", ["PUT"], Operators),
        ("workflows-resume", "workflows", "/api/v1/workflows/{runId}/resume", ["PUT"], Operators),
        ("workflows-run-events", "workflows", "/api/v1/workflows/{runId}/events/{name}", ["POST"], Senders),
        ("workflows-triggers", "workflows", "/api/v1/workflows/{id}/versions/{version}/triggers", ["PUT"], Operators),
        ("workflows-create", "workflows", "/api/v1/workflows", ["POST"], Operators),
        ("workflows-update", "workflows", "/api/v1/workflows/{id}", ["PUT"], Operators),
        ("workflows-list", "workflows", "/api/v1/workflows", ["GET"], Readers),
        ("workflows-read", "workflows", "/api/v1/workflows/{**rest}", ["GET"], Readers),
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
        // An agent that also holds the viewer role is still an agent (as for queues and memory).
        options.AddPolicy(Observers, p => p.RequireAssertion(c => c.User.IsInRole(Roles.Admin) || c.User.IsInRole(Roles.Operator)
            || (c.User.IsInRole(Roles.Viewer) && !c.User.IsInRole(Roles.Agent))));
        options.AddPolicy(Senders, p => p.RequireRole(Roles.Admin, Roles.Operator, Roles.Agent));
        options.AddPolicy(QueueOwner, p => p.AddRequirements(new QueueOwnerRequirement()));
        options.AddPolicy(Admins, p => p.RequireRole(Roles.Admin));
        options.AddPolicy(Operators, p => p.RequireRole(Roles.Admin, Roles.Operator));
        options.AddPolicy(AgentOwner, p => p.AddRequirements(new QueueOwnerRequirement()));
        options.AddPolicy(AgentReader, p => p.AddRequirements(new AgentReaderRequirement()));
        options.AddPolicy(Registrars, p => p.RequireRole(Roles.Admin, Roles.Operator));
    }
}

/// <summary>Admins and operators may use any agent's queue or memory; an agent only its own.</summary>
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

/// <summary>Admins, operators and viewers may read any agent's memory; an agent (even one that is also a viewer) only its own.</summary>
public sealed class AgentReaderRequirement : AuthorizationHandler<AgentReaderRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AgentReaderRequirement requirement)
    {
        var user = context.User;
        if (user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Operator))
        {
            context.Succeed(requirement);
        }
        else if (user.IsInRole(Roles.Agent))
        {
            if (context.Resource is HttpContext http && http.GetRouteValue("agentId") is string agentId && user.FindFirst(Roles.AgentIdClaim)?.Value == agentId)
            {
                context.Succeed(requirement);
            }
        }
        else if (user.IsInRole(Roles.Viewer))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}
