using System.Collections.Concurrent;
using System.Net;
using System.Text;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>
/// A stand-in OpenTelemetry collector on loopback: takes OTLP/HTTP exports (protobuf) on <c>/v1/traces</c> and
/// <c>/v1/metrics</c> and keeps each body. Protobuf keeps strings as UTF-8 bytes, so attribute keys and string values
/// are found in a body as they are.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public ConcurrentQueue<(string Signal, byte[] Body)> Exports { get; } = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, port);
        app.MapPost("/v1/{signal}", async (string signal, HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            receiver.Exports.Enqueue((signal, body.ToArray()));
            http.Response.ContentType = "application/x-protobuf";
            return Results.Ok();
        });
        await app.StartAsync();
        return receiver;
    }

    /// <summary>Settings that make a service export to this receiver promptly.</summary>
    public Dictionary<string, string> Environment() => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{Port}",
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
    };

    /// <summary>Some export of <paramref name="signal"/> holds every one of the strings.</summary>
    public bool Holds(string signal, params string[] strings) =>
        Exports.Any(e => e.Signal == signal && strings.All(s => Contains(e.Body, Encoding.UTF8.GetBytes(s))));

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
