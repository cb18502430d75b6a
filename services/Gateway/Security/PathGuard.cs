using Microsoft.AspNetCore.Http.Features;

namespace AgenticFlow.Gateway.Security;

/// <summary>
/// The ingress forwards a path only when what the route policy authorises is byte for byte what the next hop
/// receives. A request path is refused (400 problem) when, after one percent-decoding, it still holds a
/// <c>%</c> (layered encoding), or it holds an encoded slash or backslash, a backslash, a control character,
/// an empty segment, or a dot-segment (<c>.</c>, <c>..</c>, or anything starting with <c>..</c>), encoded or not.
/// </summary>
public static class PathGuard
{
    public static IApplicationBuilder UsePathGuard(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        if (Refusal(raw) is { } reason)
        {
            await GatewayExtensions.Problem(context, StatusCodes.Status400BadRequest, "Malformed path",
                $"The request path is refused: {reason}.", "malformed-path");
            return;
        }
        await next(context);
    });

    /// <summary>Why a request target is refused, or null when its path may be forwarded.</summary>
    public static string? Refusal(string rawTarget)
    {
        var queryAt = rawTarget.IndexOf('?');
        var path = queryAt < 0 ? rawTarget : rawTarget[..queryAt];
        if (!path.StartsWith('/'))
        {
            return "it must be an absolute path";
        }
        if (path.Contains("%2f", StringComparison.OrdinalIgnoreCase) || path.Contains("%5c", StringComparison.OrdinalIgnoreCase))
        {
            return "it holds an encoded slash or backslash";
        }
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(path);
        }
        catch (UriFormatException)
        {
            return "it is not a valid percent-encoded path";
        }
        if (decoded.Contains('%'))
        {
            return "it is percent-encoded more than once, or holds an invalid escape";
        }
        if (decoded.Contains('\\'))
        {
            return "it holds a backslash";
        }
        if (decoded.Any(c => char.IsControl(c) || c == '\uFFFD'))
        {
            return "it holds a control or invalid character";
        }
        var segments = decoded.Split('/');
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment.Length == 0 && i < segments.Length - 1)
            {
                return "it holds an empty segment (//)";
            }
            if (segment is "." || segment.StartsWith("..", StringComparison.Ordinal))
            {
                return "it holds a dot-segment";
            }
        }
        return null;
    }
}
