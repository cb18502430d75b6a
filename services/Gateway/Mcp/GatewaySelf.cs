using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace AgenticFlow.Gateway.Mcp;

/// <summary>
/// The gateway calling itself: an MCP tool (and an A2A call) re-enters the gateway's own REST routes over loopback with
/// the caller's credentials, so the call passes exactly what a REST call passes (authentication, the route's role
/// policy, rate limits, the proxy through the sidecar with the caller's identity headers) and nothing is bypassed.
/// </summary>
public sealed class GatewaySelf(IHttpClientFactory clients, IServer server, IConfiguration configuration)
{
    public const string ClientName = "gateway-self";

    /// <summary>Headers copied from the inbound request onto the loopback one: the credentials and the correlation id.</summary>
    private static readonly string[] Forwarded = ["X-Api-Key", "Authorization", GatewayExtensions.CorrelationHeader];

    private Uri? _base;

    public async Task<HttpResponseMessage> SendAsync(HttpContext caller, HttpMethod method, string pathAndQuery, HttpContent? content, CancellationToken ct)
    {
        // A tool argument or task id of "." or ".." survives escaping and would be collapsed by the URI into another
        // route than the one named: such a path is refused here, as the path guard refuses it at the edge.
        if (pathAndQuery.Split('?', 2)[0].Split('/').Any(segment => segment is "." or ".."))
        {
            return new HttpResponseMessage(System.Net.HttpStatusCode.BadRequest)
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { type = GatewayExtensions.ProblemBase + "malformed-request", title = "Bad path",
                    status = 400, detail = "A path segment may not be '.' or '..'." }),
            };
        }
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress(), pathAndQuery)) { Content = content };
        foreach (var name in Forwarded)
        {
            if (caller.Request.Headers.TryGetValue(name, out var value) && value.Count > 0)
            {
                request.Headers.TryAddWithoutValidation(name, value.ToString());
            }
        }
        // The REST call belongs to the tool call's trace: the gateway takes this one trace context in (see IngressTraceContext).
        request.Headers.TryAddWithoutValidation(Security.IngressTraceContext.SelfHeader, Security.IngressTraceContext.SelfKey);
        return await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
    }

    /// <summary>Where this gateway listens: <c>Gateway:SelfUrl</c> when set, else its first HTTP address, with a
    /// wildcard host replaced by the loopback address.</summary>
    private Uri BaseAddress()
    {
        if (_base is not null)
        {
            return _base;
        }
        var configured = configuration["Gateway:SelfUrl"];
        var address = configured is { Length: > 0 }
            ? configured
            : server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
              ?? throw new InvalidOperationException("The gateway has no HTTP address to call itself on; set Gateway:SelfUrl.");
        var builder = new UriBuilder(address.Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1").Replace("://[::]", "://127.0.0.1"));
        return _base = builder.Uri;
    }
}
