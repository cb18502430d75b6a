using System.Net.Http.Headers;

namespace AgenticFlow.LocalRuntime.Channels;

/// <summary>HTTP calls from the sidecar to its app, carrying <c>dapr-api-token</c> when APP_API_TOKEN is set.</summary>
public sealed class AppChannel(HttpClient client, string? appApiToken) : IDisposable
{
    public const string TokenHeader = "dapr-api-token";

    public Uri BaseAddress => client.BaseAddress!;

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        request.Headers.Remove(TokenHeader);
        if (appApiToken is not null)
        {
            request.Headers.TryAddWithoutValidation(TokenHeader, appApiToken);
        }
        return client.SendAsync(request, completion, ct);
    }

    public async Task<bool> IsReachableAsync(CancellationToken ct)
    {
        try
        {
            using var socket = new System.Net.Sockets.TcpClient();
            await socket.ConnectAsync(BaseAddress.Host, BaseAddress.Port, ct);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public static HttpContent Bytes(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (!string.IsNullOrEmpty(contentType))
        {
            if (MediaTypeHeaderValue.TryParse(contentType, out var parsed))
            {
                content.Headers.ContentType = parsed;
            }
            else if (!contentType.Any(char.IsControl))
            {
                // daprd passes the caller's content type on as written, even one .NET would not parse.
                content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }
        return content;
    }

    public void Dispose() => client.Dispose();
}
