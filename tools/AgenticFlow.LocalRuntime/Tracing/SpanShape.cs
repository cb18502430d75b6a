namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// What daprd names a sidecar API span and which attributes it sets, read from the request path: invocation is
/// <c>CallLocal/{appId}/{method}</c> (<c>rpc.service</c> ServiceInvocation, <c>net.peer.name</c>), an actor method
/// <c>CallActor/{type}/{method}</c> (<c>dapr.actor</c>), state, secrets and bindings carry <c>db.system</c> /
/// <c>db.name</c> / <c>db.statement</c>, a publish <c>messaging.system</c> pubsub and the topic; every span
/// <c>dapr.api</c>, <c>dapr.protocol</c> and (when it ends) <c>dapr.status_code</c>. Other spans keep the path as name.
/// </summary>
public static class SpanShape
{
    public const string InvokePeerPrefix = "/__agenticflow/invoke/";
    public const string ActorPeerPrefix = "/__agenticflow/actors/";
    public const string GrpcDaprService = "/dapr.proto.runtime.v1.Dapr/";

    /// <summary>
    /// False for calls that are never traced: health checks (<c>/healthz</c> as in daprd, and the apps' <c>/readyz</c>,
    /// <c>/livez</c> probes, which monitoring makes of every app each second) and invocations of a telemetry intake path
    /// (OTLP <c>v1/traces|metrics|logs</c>, Zipkin <c>api/v2/spans</c>): a service's telemetry export goes through its
    /// sidecar, and a span for that call would be exported in turn, and so on for ever. Also the workflow worker's
    /// stream of work items, which lasts as long as the app runs: one span for hours says nothing.
    /// </summary>
    public static bool IsTraced(string path)
    {
        // Whole paths and whole methods only: a substring test let any caller leave its calls out of the traces by
        // putting "/healthz" somewhere in a path, or ending one in "/readyz" (for example GET /api/v1/agents/x/healthz
        // through the gateway).
        if (path is "/v1.0/healthz" or "/v1.0/healthz/outbound" || path == WorkItemsMethod)
        {
            return false;
        }
        if (InvokedMethod(path) is not { } method)
        {
            return true;
        }
        var bare = WithoutQuery(method.TrimStart('/'));
        return bare is not ("healthz" or "readyz" or "livez") && !IsTelemetryIntake(bare);
    }

    /// <summary>The workflow worker's stream of work items (gRPC path).</summary>
    public static readonly string WorkItemsMethod = "/" + Dapr.DurableTask.Protobuf.TaskHubSidecarService.Descriptor.FullName + "/GetWorkItems";

    /// <summary>A path (or method) without its query string.</summary>
    public static string WithoutQuery(string path) => path.IndexOf('?') is var q and >= 0 ? path[..q] : path;

    /// <summary>The method part of an invocation path (API or peer), or null when the path is no invocation.</summary>
    public static string? InvokedMethod(string path)
    {
        if (path.StartsWith(InvokePeerPrefix, StringComparison.Ordinal))
        {
            return path[InvokePeerPrefix.Length..];
        }
        if (path.StartsWith("/v1.0/invoke/", StringComparison.Ordinal))
        {
            var rest = path["/v1.0/invoke/".Length..];
            var at = rest.IndexOf("/method/", StringComparison.Ordinal);
            return at < 0 ? null : rest[(at + "/method/".Length)..];
        }
        return null;
    }

    public static bool IsTelemetryIntake(string method)
    {
        var m = WithoutQuery(method.TrimStart('/'));
        return IsSegments(m, "v1/traces") || IsSegments(m, "v1/metrics") || IsSegments(m, "v1/logs") || IsSegments(m, "api/v2/spans");
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="prefix"/> or goes on below it (whole segments).</summary>
    private static bool IsSegments(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] == '/');


    /// <summary>The span name of a call to <paramref name="path"/> taken by <paramref name="appId"/>'s sidecar.</summary>
    public static string NameOf(string path, string appId)
    {
        if (path.StartsWith(InvokePeerPrefix, StringComparison.Ordinal))
        {
            return $"CallLocal/{appId}/{path[InvokePeerPrefix.Length..]}";
        }
        var parts = path.Split('/', 7);
        // "", "v1.0", "invoke", id, "method", rest
        if (parts.Length >= 6 && parts[2] == "invoke" && parts[4] == "method")
        {
            return $"CallLocal/{parts[3]}/{string.Join('/', parts[5..])}";
        }
        // "", "v1.0", "actors", type, id, "method", name
        if (parts.Length == 7 && parts[2] == "actors" && parts[5] == "method")
        {
            return $"CallActor/{parts[3]}/{parts[6]}";
        }
        if (path.StartsWith(ActorPeerPrefix, StringComparison.Ordinal))
        {
            var peer = path[ActorPeerPrefix.Length..].Split('/', 4);
            return peer.Length >= 4 && peer[2] == "method" ? $"CallActor/{Uri.UnescapeDataString(peer[0])}/{peer[3]}" : path;
        }
        return path;
    }

    /// <summary>Sets daprd's attributes of an HTTP API call on <paramref name="span"/>.</summary>
    public static void Describe(SidecarSpan span, string httpMethod, string path, string appId)
    {
        if (!span.Recorded)
        {
            return;
        }
        if (path.StartsWith(GrpcDaprService, StringComparison.Ordinal) || path.StartsWith("/dapr.proto.", StringComparison.Ordinal))
        {
            var slash = path.LastIndexOf('/');
            span.Tag("rpc.system", "grpc").Tag("rpc.service", path[1..slash]).Tag("rpc.method", path[(slash + 1)..])
                .Tag("dapr.protocol", "grpc").Tag("dapr.api", path);
            return;
        }
        span.Tag("dapr.protocol", "http").Tag("dapr.api", $"{httpMethod} {path}");
        if (path.StartsWith(InvokePeerPrefix, StringComparison.Ordinal))
        {
            span.Tag("rpc.service", "ServiceInvocation").Tag("dapr.invoke_method", path[InvokePeerPrefix.Length..]);
            return;
        }
        var parts = path.Split('/', 7);
        if (parts.Length < 4)
        {
            return;
        }
        switch (parts[2])
        {
            case "invoke":
                span.Tag("rpc.service", "ServiceInvocation").Tag("net.peer.name", parts[3]);
                break;
            case "state":
                Store(span, "state", parts[3], $"{httpMethod} {path}");
                break;
            case "secrets":
                Store(span, "secrets", parts[3], $"{httpMethod} {path}");
                break;
            case "bindings":
                Store(span, "bindings", parts[3], $"{httpMethod} {path}");
                break;
            case "publish":
                // /v1.0/publish/{pubsub}/{topic} or /v1.0/publish/bulk/{pubsub}/{topic}
                var bulk = parts[3] == "bulk";
                var topicAt = bulk ? 5 : 4;
                Publish(span, bulk ? parts.ElementAtOrDefault(4) : parts[3], parts.Length > topicAt ? string.Join('/', parts[topicAt..]) : null);
                break;
            case "actors" when parts.Length >= 6:
                span.Tag("dapr.actor", $"{parts[3]}.{parts[4]}");
                if (parts[5] == "method")
                {
                    span.Tag("rpc.service", "ServiceInvocation").Tag("net.peer.name", $"{parts[3]}.{parts[4]}");
                }
                else if (parts[5] == "state")
                {
                    Store(span, "state", "actor", $"{httpMethod} {path}");
                }
                break;
        }
    }

    /// <summary>A state, secrets or bindings call: daprd's database attributes.</summary>
    public static void Store(SidecarSpan span, string system, string? name, string statement) =>
        span.Tag("db.system", system).Tag("db.name", name).Tag("db.statement", statement).Tag("db.connection_string", system);

    /// <summary>A publish or a delivery: daprd's messaging attributes.</summary>
    public static void Publish(SidecarSpan span, string? pubsub, string? topic) =>
        span.Tag("messaging.system", "pubsub").Tag("messaging.destination.name", topic).Tag("messaging.destination.kind", "topic").Tag("dapr.pubsub", pubsub);

    /// <summary>An invocation made over gRPC (<c>InvokeService</c>): renamed as daprd renames it.</summary>
    public static void Invoke(SidecarSpan span, string appId, string method)
    {
        span.Name = $"CallLocal/{appId}/{method}";
        span.Tag("rpc.service", "ServiceInvocation").Tag("net.peer.name", appId);
    }
}
