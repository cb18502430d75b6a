using System.Net;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Workflows;
using Dapr.DurableTask.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// daprd's HTTP workflow API (<c>/v1.0/workflows/dapr/...</c>, also under <c>/v1.0-beta1</c>) over the same engine
/// as the gRPC service, for apps in other languages. Inputs and event payloads must be JSON (the SDKs read them as
/// JSON), so anything else is refused with 400 before anything is stored. Unknown instances answer 404.
/// </summary>
public static class WorkflowHttpApi
{
    private const string Component = "dapr";
    private static readonly string[] Versions = ["v1.0", "v1.0-beta1"];

    /// <summary>Where a replica sends a workflow call on to the sidecar that runs the workflows: the API path follows.</summary>
    public const string PeerPrefix = PeerProtocol.Root + "workflows/";

    public static bool IsWorkflowPath(string path) => Versions.Any(v => path.StartsWith($"/{v}/workflows/", StringComparison.Ordinal));

    public static void MapWorkflowHttpApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in Versions)
        {
            var workflows = app.MapGroup($"/{version}/workflows/{{component}}");
            workflows.AddEndpointFilter(async (context, next) =>
            {
                // Replicas: the sidecar that runs this app's workflows answers; this one passes the call on.
                if (context.HttpContext.RequestServices.GetRequiredService<WorkflowBackend>().Leader() is { } leader)
                {
                    await ForwardAsync(context.HttpContext, leader);
                    return Results.Empty;
                }
                try
                {
                    return await next(context);
                }
                catch (Exception ex) when (ex is not DaprError and not OperationCanceledException and not BadHttpRequestException)
                {
                    throw WorkflowErrors.Backend(ex);
                }
            });
            workflows.MapPost("/{name}/start", Start);
            workflows.MapGet("/{instanceId}", Get);
            workflows.MapPost("/{instanceId}/raiseEvent/{eventName}", RaiseEvent);
            workflows.MapPost("/{instanceId}/terminate", Terminate);
            workflows.MapPost("/{instanceId}/pause", Pause);
            workflows.MapPost("/{instanceId}/resume", Resume);
            workflows.MapPost("/{instanceId}/purge", Purge);
        }
    }

    private static Task ForwardAsync(HttpContext http, SidecarAddress leader) =>
        Invocation.ToPeerAsync(http, http.RequestServices.GetRequiredService<InvocationTargets>(), leader, $"{PeerPrefix.TrimEnd('/')}{http.Request.Path}{http.Request.QueryString}",
            ex => new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_WORKFLOW_BACKEND",
                $"the sidecar running this app's workflows ({leader.Identity}) is not reachable: {ex.Message}"));

    private static async Task<IResult> Start(WorkflowBackend backend, string component, string name, HttpRequest request, CancellationToken ct)
    {
        CheckComponent(component);
        var instanceId = request.Query["instanceID"].ToString();
        var start = new CreateInstanceRequest
        {
            InstanceId = WorkflowErrors.CheckInstanceId(string.IsNullOrEmpty(instanceId) ? Guid.NewGuid().ToString() : instanceId),
            Name = WorkflowErrors.CheckName(name),
            Input = await ReadInputAsync(request, ct),
        };
        var engine = await backend.EngineAsync(ct);
        var id = await engine.StartInstanceAsync(start, ct);
        return Results.Json(new { instanceID = id }, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> Get(WorkflowBackend backend, string component, string instanceId, CancellationToken ct)
    {
        CheckComponent(component);
        var engine = await backend.EngineAsync(ct);
        var state = await engine.GetAsync(instanceId, withInputsAndOutputs: true, ct) ?? throw WorkflowErrors.NotFound("ERR_GET_WORKFLOW", instanceId);
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        Add(properties, "dapr.workflow.input", state.Input);
        Add(properties, "dapr.workflow.output", state.Output);
        Add(properties, "dapr.workflow.custom_status", state.CustomStatus);
        Add(properties, "dapr.workflow.failure.error_type", state.FailureDetails?.ErrorType);
        Add(properties, "dapr.workflow.failure.error_message", state.FailureDetails?.ErrorMessage);
        return Results.Json(new
        {
            instanceID = state.InstanceId,
            workflowName = state.Name,
            createdAt = state.CreatedTimestamp?.ToDateTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            lastUpdatedAt = state.LastUpdatedTimestamp?.ToDateTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            runtimeStatus = WorkflowEngine.StatusName(state.WorkflowStatus),
            properties,
        });
    }

    private static async Task<IResult> RaiseEvent(WorkflowBackend backend, string component, string instanceId, string eventName, HttpRequest request, CancellationToken ct)
    {
        CheckComponent(component);
        var input = await ReadInputAsync(request, ct);
        var engine = await backend.EngineAsync(ct);
        await engine.RaiseEventAsync(instanceId, eventName, input, ct);
        return Results.Accepted();
    }

    private static async Task<IResult> Terminate(WorkflowBackend backend, string component, string instanceId, HttpRequest request, CancellationToken ct)
    {
        CheckComponent(component);
        var engine = await backend.EngineAsync(ct);
        await engine.TerminateAsync(instanceId, null, recursive: !NonRecursive(request), ct);
        return Results.Accepted();
    }

    private static async Task<IResult> Pause(WorkflowBackend backend, string component, string instanceId, CancellationToken ct)
    {
        CheckComponent(component);
        var engine = await backend.EngineAsync(ct);
        await engine.SuspendAsync(instanceId, null, ct);
        return Results.Accepted();
    }

    private static async Task<IResult> Resume(WorkflowBackend backend, string component, string instanceId, CancellationToken ct)
    {
        CheckComponent(component);
        var engine = await backend.EngineAsync(ct);
        await engine.ResumeAsync(instanceId, null, ct);
        return Results.Accepted();
    }

    private static async Task<IResult> Purge(WorkflowBackend backend, string component, string instanceId, HttpRequest request, CancellationToken ct)
    {
        CheckComponent(component);
        var engine = await backend.EngineAsync(ct);
        if (await engine.PurgeAsync(instanceId, recursive: !NonRecursive(request), force: false, ct) == 0)
        {
            throw WorkflowErrors.NotFound("ERR_PURGE_WORKFLOW", instanceId);
        }
        return Results.Accepted();
    }

    private static void CheckComponent(string component)
    {
        if (component != Component)
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_NON_EXISTENT_WORKFLOW_COMPONENT_PROVIDED",
                $"workflow component '{component}' does not exist: the only workflow component is '{Component}'");
        }
    }

    private static bool NonRecursive(HttpRequest request) =>
        string.Equals(request.Query["non_recursive"], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The body as the workflow's input or the event's data, taken as sent (null when empty): daprd makes no
    /// assumption about its format, and the JavaScript SDK sends a string input as plain text, not as JSON.</summary>
    private static async Task<string?> ReadInputAsync(HttpRequest request, CancellationToken ct)
    {
        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync(ct);
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    private static void Add(Dictionary<string, string> properties, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            properties[key] = value;
        }
    }
}
