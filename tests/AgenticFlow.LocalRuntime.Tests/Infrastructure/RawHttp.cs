using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>
/// Sends one HTTP/1.1 request with the request target exactly as written, byte for byte: HttpClient would
/// resolve dot-segments and re-encode escapes before anything left the process, which is what attacks rely on.
/// </summary>
public static class RawHttp
{
    public sealed record Answer(int Status, string Head, string Body);

    public static async Task<Answer> SendAsync(int port, string method, string target, IReadOnlyDictionary<string, string>? headers = null, string? body = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await using var stream = client.GetStream();
        var request = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        var payload = Encoding.UTF8.GetBytes(body ?? "");
        if (body is not null)
        {
            request.Append("Content-Type: application/json\r\n");
        }
        request.Append("Content-Length: ").Append(payload.Length).Append("\r\n\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.ToString()));
        await stream.WriteAsync(payload);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var text = await reader.ReadToEndAsync(timeout.Token);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = split < 0 ? text : text[..split];
        var status = int.Parse(head.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        return new Answer(status, head, split < 0 ? "" : text[(split + 4)..]);
    }
}
