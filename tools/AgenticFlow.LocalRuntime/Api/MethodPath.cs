using System.Text;
using AgenticFlow.LocalRuntime.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The method part of a service invocation is opaque data appended to the target's route: it is taken from the
/// request target exactly as the caller encoded it and sent on byte for byte, never decoded and re-normalised.
/// A method with a dot-segment (<c>.</c> or <c>..</c>, in any encoding) is refused, because the next hop's
/// server would resolve it and the call could leave the invoke route for the sidecar's own API.
/// </summary>
public static class MethodPath
{
    private static readonly UriCreationOptions Opaque = new() { DangerousDisablePathAndQueryCanonicalization = true };

    /// <summary>The still-encoded path and query after the first <paramref name="routeSegments"/> segments of the
    /// request target (<c>v1.0/invoke/{appId}/method</c> is four), with a leading slash.</summary>
    public static string FromRequestTarget(HttpContext context, int routeSegments)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        if (raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // Absolute-form targets: drop scheme and authority.
            var pathStart = raw.IndexOf('/', raw.IndexOf("//", StringComparison.Ordinal) + 2);
            raw = pathStart < 0 ? "/" : raw[pathStart..];
        }
        var queryAt = raw.IndexOf('?');
        var (path, query) = queryAt < 0 ? (raw, "") : (raw[..queryAt], raw[queryAt..]);
        var parts = path.TrimStart('/').Split('/', routeSegments + 1);
        var method = parts.Length > routeSegments ? parts[routeSegments] : "";
        Check(method);
        return "/" + method + query;
    }

    /// <summary>A method named in a gRPC call: passed on as written where it is a valid path (pre-encoded escapes
    /// included, as daprd does), with only characters a path may not hold percent-encoded. daprd appends the method
    /// to the app's address as text, so a '?' in it starts the query (the JavaScript SDK's gRPC client sends
    /// <c>order?id=1</c> so); the HTTP extension's query string follows after another '?'. The query must already
    /// be a valid query string: anything else (spaces, CR/LF, non-ASCII) is refused rather than sent on.</summary>
    public static string FromPlain(string method, string? query)
    {
        Check(method);
        if (method.IndexOf('?') is var queryAt and >= 0)
        {
            query = string.IsNullOrEmpty(query) ? method[(queryAt + 1)..] : method[(queryAt + 1)..] + "?" + query;
            method = method[..queryAt];
        }
        var path = new StringBuilder(method.Length + 1).Append('/');
        for (var i = 0; i < method.Length; i++)
        {
            var c = method[i];
            if (IsPathChar(c) || (c == '%' && i + 2 < method.Length && Uri.IsHexDigit(method[i + 1]) && Uri.IsHexDigit(method[i + 2])))
            {
                path.Append(c);
            }
            else
            {
                var length = char.IsSurrogatePair(method, i) ? 2 : 1;
                path.Append(Uri.EscapeDataString(method.Substring(i, length)));
                i += length - 1;
            }
        }
        if (!string.IsNullOrEmpty(query))
        {
            for (var i = 0; i < query.Length; i++)
            {
                var c = query[i];
                if (!(IsPathChar(c) || c == '?' || (c == '%' && i + 2 < query.Length && Uri.IsHexDigit(query[i + 1]) && Uri.IsHexDigit(query[i + 2]))))
                {
                    throw new DaprError(System.Net.HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_DIRECT_INVOKE",
                        "the query string may hold only URL query characters; percent-encode the rest");
                }
            }
            path.Append('?').Append(query);
        }
        return path.ToString();
    }

    /// <summary>RFC 3986 pchar (less '%') and '/'.</summary>
    private static bool IsPathChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '!' or '$' or '&' or '\'' or '(' or ')'
        or '*' or '+' or ',' or ';' or '=' or ':' or '@' or '/';

    /// <summary>Refuses dot-segments in any encoding (decoded up to four times), backslashes and control characters.</summary>
    public static void Check(string method)
    {
        var text = method;
        for (var round = 0; round < 4; round++)
        {
            foreach (var segment in text.Split('/', '\\'))
            {
                if (segment is "." or "..")
                {
                    throw Refused("dot-segments ('.' or '..')");
                }
            }
            if (text.Contains('\\'))
            {
                throw Refused("backslashes");
            }
            if (text.Any(char.IsControl))
            {
                throw Refused("control characters");
            }
            var decoded = Uri.UnescapeDataString(text);
            if (decoded == text)
            {
                return;
            }
            text = decoded;
        }
        throw Refused("layered percent-encoding");
    }

    /// <summary>An absolute URI for <paramref name="pathAndQuery"/> at <paramref name="origin"/>, exactly as given.</summary>
    public static Uri Target(string origin, string pathAndQuery)
    {
        // Without canonicalisation the client writes the target as given: nothing outside printable ASCII may pass,
        // or a CR/LF would end the request line and start another request.
        if (pathAndQuery.Any(c => c is < '!' or > '~'))
        {
            throw new DaprError(System.Net.HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_DIRECT_INVOKE",
                "the method path and query may hold only printable ASCII; percent-encode the rest");
        }
        return new Uri(origin.TrimEnd('/') + pathAndQuery, in Opaque);
    }

    private static DaprError Refused(string what) => new(System.Net.HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument,
        "ERR_DIRECT_INVOKE", $"the method path may not contain {what}, in any encoding");
}
