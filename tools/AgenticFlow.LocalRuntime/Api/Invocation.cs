using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Tracing;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// Service invocation: <c>/v1.0/invoke/{appId}/method/{path}</c> with any verb. A call for this sidecar's
/// own app goes straight to it; a call for another app goes to that app's sidecar, which calls its app (in memory
/// when that sidecar runs in this process, see <see cref="ColocatedSidecars"/>). Verb,
/// path, query, headers and body travel unchanged, apart from hop-by-hop headers, the API tokens and the caller
/// and callee app ids, which only sidecars set. The method path is opaque (see <see cref="MethodPath"/>).
/// </summary>
public static class Invocation
{
    internal static readonly HashSet<string> Dropped = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer",
        "Content-Length", AppChannel.TokenHeader, PeerProtocol.KeyHeader, "traceparent", "tracestate",
        CallerAppIdHeader, CalleeAppIdHeader, PeerProtocol.RefusedHeader,
    };

    public const string CallerAppIdHeader = "dapr-caller-app-id";
    public const string CalleeAppIdHeader = "dapr-callee-app-id";

    public static async Task InvokeAsync(HttpContext context, InvocationTargets targets, string appId)
    {
        // v1.0/invoke/{appId}/method/...: the method starts after four segments.
        var pathAndQuery = MethodPath.FromRequestTarget(context, 4);
        var name = context.SidecarSpan()?.Name ?? $"CallLocal/{appId}/{SpanShape.WithoutQuery(pathAndQuery).TrimStart('/')}";
        var (local, remote) = targets.Route(appId);
        if (local)
        {
            await ToAppAsync(context, targets, pathAndQuery, targets.AppId);
            return;
        }
        if (ColocatedSidecars.Find(remote!) is { } colocated)
        {
            // The callee's sidecar runs in this process: its app is called from here, as that sidecar would call it,
            // and the hop to it is traced as if it had crossed the wire: this sidecar's CLIENT span, that one's SERVER span.
            var client = targets.Tracer.Start(name, SpanKind.Client, SidecarTracer.Current);
            client.Tag("rpc.service", "ServiceInvocation").Tag("net.peer.name", colocated.AppId);
            var server = colocated.Tracer.Start($"CallLocal/{colocated.AppId}/{SpanShape.WithoutQuery(pathAndQuery).TrimStart('/')}", SpanKind.Server, client.Context);
            server.Tag("rpc.service", "ServiceInvocation").Tag("dapr.invoke_method", SpanShape.WithoutQuery(pathAndQuery).TrimStart('/')).Tag("dapr.protocol", "http");
            try
            {
                await ToAppAsync(context, colocated, pathAndQuery, targets.AppId);
            }
            catch (Exception ex)
            {
                server.Fail(ex.GetType().Name);
                client.Fail(ex.GetType().Name);
                throw;
            }
            finally
            {
                server.End(context.Response.StatusCode);
                client.End(context.Response.StatusCode);
            }
            return;
        }
        await ToPeerAsync(context, targets, remote!, PeerProtocol.InvokePrefix.TrimEnd('/') + pathAndQuery,
            ex => new DaprError(System.Net.HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_DIRECT_INVOKE", $"failed to invoke, id: {appId}, err: {ex.Message}"),
            callerAppId: targets.AppId, spanName: name);
    }

    /// <summary>
    /// Sends the incoming request on to another sidecar at <paramref name="pathAndQuery"/>, with that sidecar's
    /// peer key, and its answer back unchanged. <paramref name="unreachable"/> says what failed when it cannot be reached.
    /// </summary>
    internal static async Task ToPeerAsync(HttpContext context, InvocationTargets targets, SidecarAddress peer, string pathAndQuery,
        Func<HttpRequestException, DaprError> unreachable, string? callerAppId = null, string? spanName = null)
    {
        using var request = CopyRequest(context, MethodPath.Target($"http://127.0.0.1:{peer.HttpPort}", pathAndQuery));
        request.Headers.TryAddWithoutValidation(PeerProtocol.KeyHeader, peer.PeerKey);
        if (callerAppId is not null)
        {
            request.Headers.TryAddWithoutValidation(CallerAppIdHeader, callerAppId);
        }
        // The CLIENT span of the hop to the other sidecar, whose context that sidecar's SERVER span takes as parent.
        var span = targets.Tracer.Start(spanName ?? context.SidecarSpan()?.Name ?? SpanShape.WithoutQuery(pathAndQuery), SpanKind.Client, SidecarTracer.Current);
        span.Tag("net.peer.name", peer.AppId).Tag("rpc.service", "ServiceInvocation");
        span.Propagate(request);
        HttpResponseMessage response;
        try
        {
            response = await targets.PeerClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException ex)
        {
            span.Fail(ex.Message);
            span.End();
            throw unreachable(ex);
        }
        span.End((int)response.StatusCode);
        using (response)
        {
            if (response.Headers.Contains(PeerProtocol.RefusedHeader))
            {
                // The peer was started again since it was looked up, with a new key: the caller should retry, and the
                // next lookup reads the new entry.
                targets.ForgetPeers();
                throw unreachable(new HttpRequestException($"the sidecar {peer.Identity} was restarted; retry"));
            }
            await CopyResponse(response, context);
        }
    }

    /// <summary>True when the call carries this sidecar's peer key; otherwise answers 403.</summary>
    internal static bool FromPeer(HttpContext context, SidecarIdentity self)
    {
        if (self.IsPeerKey(context.Request.Headers[PeerProtocol.KeyHeader]))
        {
            return true;
        }
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return false;
    }

    /// <summary>A call forwarded by another sidecar: accepted only with this sidecar's peer key.</summary>
    public static async Task FromPeerAsync(HttpContext context, SidecarIdentity self, InvocationTargets targets)
    {
        if (!FromPeer(context, self))
        {
            return;
        }
        // __agenticflow/invoke/...: the method starts after two segments. The calling sidecar named its app.
        var pathAndQuery = MethodPath.FromRequestTarget(context, 2);
        await ToAppAsync(context, targets, pathAndQuery, context.Request.Headers[CallerAppIdHeader].ToString() is { Length: > 0 } caller ? caller : targets.AppId);
    }

    private static async Task ToAppAsync(HttpContext context, InvocationTargets targets, string pathAndQuery, string callerAppId)
    {
        if (targets.App is not { } app)
        {
            throw new DaprError(System.Net.HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_DIRECT_INVOKE",
                $"failed to invoke, id: {targets.AppId}, err: the app has no app port configured");
        }
        using var request = CopyRequest(context, MethodPath.Target(app.BaseAddress.GetLeftPart(UriPartial.Authority), pathAndQuery));
        request.Headers.TryAddWithoutValidation(CallerAppIdHeader, callerAppId);
        request.Headers.TryAddWithoutValidation(CalleeAppIdHeader, targets.AppId);
        // The CLIENT span of the call to the app: the app's own server span is its child.
        var method = SpanShape.WithoutQuery(pathAndQuery).TrimStart('/');
        var span = targets.Tracer.Start($"CallLocal/{targets.AppId}/{method}", SpanKind.Client, SidecarTracer.Current);
        span.Tag("rpc.service", "ServiceInvocation").Tag("dapr.invoke_method", method).Tag("net.peer.name", targets.AppId)
            .Tag("http.request.method", context.Request.Method).Tag("dapr.caller_app_id", callerAppId);
        span.Propagate(request);
        HttpResponseMessage response;
        try
        {
            response = await app.SendAsync(request, context.RequestAborted, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (HttpRequestException ex)
        {
            span.Fail(ex.Message);
            span.End();
            throw new DaprError(System.Net.HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_DIRECT_INVOKE",
                $"failed to invoke, id: {targets.AppId}, err: {ex.Message}");
        }
        span.End((int)response.StatusCode);
        using (response)
        {
            await CopyResponse(response, context);
        }
    }

    internal static HttpRequestMessage CopyRequest(HttpContext context, Uri target)
    {
        var incoming = context.Request;
        var request = new HttpRequestMessage(new HttpMethod(incoming.Method), target);
        if (incoming.ContentLength > 0 || incoming.Headers.TransferEncoding.Count > 0 || HttpMethods.IsPost(incoming.Method) || HttpMethods.IsPut(incoming.Method) || HttpMethods.IsPatch(incoming.Method))
        {
            request.Content = new StreamContent(incoming.Body);
        }
        foreach (var (name, values) in incoming.Headers)
        {
            if (Dropped.Contains(name))
            {
                continue;
            }
            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
        // traceparent is not copied: the caller writes the context of its own span (see Tracing).
        return request;
    }

    internal static async Task CopyResponse(HttpResponseMessage response, HttpContext context)
    {
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!Dropped.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }
        context.Response.Headers.Remove("Transfer-Encoding");
        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
