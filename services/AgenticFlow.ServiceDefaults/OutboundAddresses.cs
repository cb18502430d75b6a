using System.Net;
using System.Net.Sockets;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Where a service may connect when a user names the address (a provider's endpoint, an agent's MCP server or A2A
/// card): by default only public addresses. Loopback, link-local (cloud metadata), private, carrier-grade NAT and
/// unspecified addresses are refused for literal addresses and names alike, at every connection (every resolved
/// address is checked), and redirects are not followed, so a name or a redirect pointing inward is refused too.
/// </summary>
public static class OutboundAddresses
{
    public static bool IsLocalName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>The URL names a loopback name or a non-public literal address.</summary>
    public static bool IsPrivateLiteral(Uri uri) => IsLocalName(uri.IdnHost) || (IPAddress.TryParse(uri.IdnHost, out var address) && !IsPublic(address));

    /// <summary>A handler that connects only to public addresses (any address when <paramref name="allowPrivate"/>),
    /// follows no redirect and uses no proxy.</summary>
    public static SocketsHttpHandler Handler(bool allowPrivate, string what, string setting) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
            var usable = allowPrivate ? addresses : addresses.Where(IsPublic).ToArray();
            if (usable.Length == 0)
            {
                throw new HttpRequestException($"{what} {context.DnsEndPoint.Host} resolves to no public address; set {setting} to call it");
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
