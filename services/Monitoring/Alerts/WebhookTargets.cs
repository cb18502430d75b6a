using System.Net;
using System.Net.Sockets;

namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// Where alert webhooks may go, and how their URLs are shown. A webhook is a request this service makes on an
/// operator's say-so from inside the cluster, so it may not reach loopback, private, link-local or unique-local
/// addresses (the platform's own stores, the cloud's metadata endpoint) unless <c>Monitoring:AllowPrivateWebhooks</c>
/// says so; the host is checked when the rule is made and its addresses again when each call is made, and redirects
/// are not followed. A URL often holds a secret token, so readers other than operators see only its scheme and host.
/// </summary>
public static class WebhookTargets
{
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal;
        }
        var b = address.GetAddressBytes();
        return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] == 0;
    }

    /// <summary>What is wrong with the URL as a webhook target, judged on its text (no lookup); null when it may be used.</summary>
    public static string? Refusal(string url, bool allowPrivate)
    {
        if (url.Length > 2000 || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return "An absolute http or https URL without user info.";
        }
        if (!allowPrivate && (uri.IsLoopback || uri.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var literal) && IsPrivate(literal))))
        {
            return "Webhooks may not go to loopback, private or link-local addresses (Monitoring:AllowPrivateWebhooks).";
        }
        return null;
    }

    /// <summary>Throws when the host resolves to an address a webhook may not reach.</summary>
    public static async Task CheckResolvedAsync(Uri uri, bool allowPrivate, CancellationToken ct)
    {
        if (allowPrivate)
        {
            return;
        }
        var addresses = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(uri.Host, ct);
        if (addresses.Length == 0 || addresses.Any(IsPrivate))
        {
            throw new HttpRequestException($"webhook host {uri.Host} resolves to an address webhooks may not reach");
        }
    }

    /// <summary>Scheme and host only: <c>https://hooks.example.com/…</c>.</summary>
    public static string Redact(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}/…" : "…";
}
