using System.Net;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Tracing;

namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>Where a service invocation goes: this sidecar's own app (through its channel), or the sidecar of
/// another app id (through the pooled peer client).</summary>
public sealed class InvocationTargets(SidecarIdentity self, NameRegistry names, AppChannel? app, Func<HttpClient> peerClient, SidecarTracer? tracer = null)
{
    public string AppId => self.AppId;

    /// <summary>The spans of this sidecar's calls (one that records nothing when tracing is off).</summary>
    public SidecarTracer Tracer { get; } = tracer ?? SidecarTracer.Disabled(self.AppId + "-sidecar");

    /// <summary>This sidecar's app; null when it was started without an app port.</summary>
    public AppChannel? App => app;

    public HttpClient PeerClient() => peerClient();

    /// <summary>Local when <paramref name="appId"/> (or <c>appId.namespace</c>) is this app, else the sidecar to call.</summary>
    public (bool Local, SidecarAddress? Remote) Route(string appId)
    {
        var id = appId.Split('.')[0];
        if (id == self.AppId)
        {
            return (true, null);
        }
        var remote = names.Resolve(id) ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_DIRECT_INVOKE",
            $"failed to invoke, id: {id}, err: no sidecar for app id {id} is running");
        return (false, remote);
    }

    /// <summary>Forgets the sidecars found so far: one of them refused this sidecar's view of its peer key, so it
    /// was started again meanwhile and the next lookup must read its new entry.</summary>
    public void ForgetPeers() => names.Refresh();
}
