using System.Net;
using System.Text.RegularExpressions;
using AgenticFlow.LocalRuntime.Errors;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>The errors workflow calls surface, with daprd's error codes, on both wires.</summary>
public static partial class WorkflowErrors
{
    public static DaprError ActorStoreMissing(IEnumerable<string> stateStores)
    {
        var names = string.Join(", ", stateStores);
        return new(HttpStatusCode.InternalServerError, StatusCode.FailedPrecondition, "ERR_WORKFLOW_COMPONENT_MISSING",
            "workflows need a state store marked as the actor state store, and none is: add metadata 'actorStateStore: \"true\"' to one state component"
            + (names.Length == 0 ? " (no state store is loaded)" : $" (loaded state stores: {names})"));
    }

    public static DaprError NotFound(string code, string instanceId) =>
        new(HttpStatusCode.NotFound, StatusCode.NotFound, code, $"no such instance exists: workflow instance '{instanceId}' was not found");

    public static DaprError AlreadyExists(string instanceId, string status) =>
        new(HttpStatusCode.Conflict, StatusCode.AlreadyExists, "ERR_START_WORKFLOW", $"an active workflow with ID '{instanceId}' already exists (status {status})");

    public static DaprError NotPurgeable(string instanceId, string status) =>
        new(HttpStatusCode.Conflict, StatusCode.FailedPrecondition, "ERR_PURGE_WORKFLOW",
            $"workflow instance '{instanceId}' is {status}: only completed, failed or terminated instances can be purged");

    /// <summary>The store failed under a workflow call: reported as daprd reports backend failures, nothing is acknowledged.</summary>
    public static DaprError Backend(Exception ex) =>
        new(HttpStatusCode.InternalServerError, StatusCode.Internal, "ERR_WORKFLOW_BACKEND", $"the workflow backend failed: {ex.Message}");

    public static DaprError Invalid(string code, string message) => new(HttpStatusCode.BadRequest, StatusCode.InvalidArgument, code, message);

    /// <summary>Instance ids become part of state keys and URL paths: letters, digits and <c>-_.:@</c>, up to 256.</summary>
    public static string CheckInstanceId(string? instanceId)
    {
        if (string.IsNullOrEmpty(instanceId))
        {
            throw Invalid("ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided");
        }
        if (instanceId.Length > 256)
        {
            throw Invalid("ERR_INSTANCE_ID_TOO_LONG", $"workflow instance ID exceeds the max length of 256 characters");
        }
        if (!InstanceIdPattern().IsMatch(instanceId))
        {
            throw Invalid("ERR_INSTANCE_ID_INVALID", $"workflow instance ID '{instanceId}' is invalid: only letters, digits and '-', '_', '.', ':', '@' are allowed");
        }
        return instanceId;
    }

    public static string CheckName(string? name) => string.IsNullOrWhiteSpace(name)
        ? throw Invalid("ERR_WORKFLOW_NAME_MISSING", "workflow name is not configured")
        : name;

    [GeneratedRegex("^[A-Za-z0-9_.:@-]+$")]
    private static partial Regex InstanceIdPattern();
}
