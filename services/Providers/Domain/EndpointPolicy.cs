using System.Net;
using System.Net.Sockets;

namespace AgenticFlow.Providers.Domain;

/// <summary>
/// Where the service may send provider calls, which carry API keys. By default only public addresses: loopback,
/// link-local (cloud metadata), private and unspecified addresses are refused, both when a provider is configured
/// (literal addresses and <c>localhost</c>) and when a connection is made (every resolved address), so a name
/// that resolves to an internal address is refused too. Keys go over HTTPS to public hosts.
/// </summary>
public static class EndpointPolicy
{
    public static IEnumerable<string> Check(string? endpoint, ProvidersOptions options)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            yield break;
        }
        if (options.AllowedEndpointHosts.Count > 0 && !options.AllowedEndpointHosts.Contains(uri.IdnHost, StringComparer.OrdinalIgnoreCase))
        {
            yield return $"endpoint host {uri.IdnHost} is not in Providers:AllowedEndpointHosts";
        }
        var isPrivate = IsLocalName(uri.IdnHost) || (IPAddress.TryParse(uri.IdnHost, out var address) && !IsPublic(address));
        if (isPrivate && !options.AllowPrivateEndpoints)
        {
            yield return $"endpoint {uri.IdnHost} is a loopback, link-local or private address; set Providers:AllowPrivateEndpoints to use one";
        }
        else if (!isPrivate && uri.Scheme != "https")
        {
            // Whatever else is allowed, a key never crosses a public network in clear text.
            yield return "endpoint must use https (API keys are sent to it)";
        }
    }

    /// <summary>Opens provider connections, refusing non-public addresses unless they are allowed.</summary>
    public static SocketsHttpHandler Handler(ProvidersOptions options) =>
        ServiceDefaults.OutboundAddresses.Handler(options.AllowPrivateEndpoints, "provider host", "Providers:AllowPrivateEndpoints");

    private static bool IsLocalName(string host) => ServiceDefaults.OutboundAddresses.IsLocalName(host);

    public static bool IsPublic(IPAddress address) => ServiceDefaults.OutboundAddresses.IsPublic(address);
}
