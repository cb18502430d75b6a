using System.Net;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Errors;

/// <summary>
/// An error surfaced to a Dapr client. Carries both shapes daprd uses: an HTTP status with an
/// <c>errorCode</c>/<c>message</c> body, and a gRPC status code.
/// </summary>
public sealed class DaprError(HttpStatusCode httpStatus, StatusCode grpcStatus, string errorCode, string message)
    : Exception(message)
{
    public HttpStatusCode HttpStatus { get; } = httpStatus;
    public StatusCode GrpcStatus { get; } = grpcStatus;
    public string ErrorCode { get; } = errorCode;

    public static DaprError Malformed(string message) =>
        new(HttpStatusCode.BadRequest, StatusCode.InvalidArgument, "ERR_MALFORMED_REQUEST", message);

    public static DaprError StoreNotFound(string name) =>
        new(HttpStatusCode.BadRequest, StatusCode.InvalidArgument, "ERR_STATE_STORE_NOT_FOUND", $"state store {name} is not found");

    public static DaprError StoresNotConfigured() =>
        new(HttpStatusCode.InternalServerError, StatusCode.FailedPrecondition, "ERR_STATE_STORE_NOT_CONFIGURED", "state store is not configured");

    public static DaprError PubSubNotFound(string name) =>
        new(HttpStatusCode.NotFound, StatusCode.InvalidArgument, "ERR_PUBSUB_NOT_FOUND", $"pubsub {name} is not found");

    // daprd answers an unknown secret store with 401 on HTTP; kept for compatibility.
    public static DaprError SecretStoreNotFound(string name) =>
        new(HttpStatusCode.Unauthorized, StatusCode.InvalidArgument, "ERR_SECRET_STORE_NOT_FOUND", $"failed finding secret store with key {name}");

    public static DaprError BindingNotFound(string name) =>
        new(HttpStatusCode.NotFound, StatusCode.NotFound, "ERR_INVOKE_OUTPUT_BINDING", $"error invoking output binding {name}: binding not found");

    public static DaprError Unauthorized() =>
        new(HttpStatusCode.Unauthorized, StatusCode.Unauthenticated, "ERR_UNAUTHORIZED", "invalid api token");
}
