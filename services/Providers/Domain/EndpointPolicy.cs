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
    public static SocketsHttpHandler Handler(ProvidersOptions options) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
            var usable = options.AllowPrivateEndpoints ? addresses : addresses.Where(IsPublic).ToArray();
            if (usable.Length == 0)
            {
                throw new HttpRequestException($"provider host {context.DnsEndPoint.Host} resolves to no public address; set Providers:AllowPrivateEndpoints to call it");
            }
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(usable, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    private static bool IsLocalName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var v6 = address.GetAddressBytes();
            // Forms that carry an IPv4 address: NAT64 (64:ff9b::/96), IPv4-compatible (::/96), 6to4 (2002::/16).
            if (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && v6[4..12].All(x => x == 0) || v6[..12].All(x => x == 0))
            {
                return IsPublic(new IPAddress(v6[12..16]));
            }
            if (v6[0] == 0x20 && v6[1] == 0x02)
            {
                return IsPublic(new IPAddress(v6[2..6]));
            }
            return !address.IsIPv6LinkLocal && !address.IsIPv6SiteLocal && !address.IsIPv6Multicast && (v6[0] & 0xFE) != 0xFC;
        }
        var b = address.GetAddressBytes();
        return b[0] switch
        {
            0 or 10 or 127 => false,
            169 => b[1] != 254,
            172 => b[1] is < 16 or > 31,
            192 => b[1] != 168 && !(b[1] == 0 && b[2] is 0 or 2),
            198 => b[1] is not (18 or 19) && !(b[1] == 51 && b[2] == 100), // benchmarking, documentation
            100 => b[1] is < 64 or > 127, // carrier-grade NAT
            >= 224 => false,
            _ => true,
        };
    }
}
