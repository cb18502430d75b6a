using Dapr;
using Grpc.Core;

namespace AgenticFlow.ServiceDefaults;

public static class DaprStateExtensions
{
    /// <summary>True when a state write failed because an ETag (or first-write insert) no longer holds: read again and redo.</summary>
    public static bool IsETagConflict(this DaprException exception) =>
        exception.InnerException is RpcException { StatusCode: StatusCode.Aborted };
}
