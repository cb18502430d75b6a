using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>A remote agent that speaks A2A 1.0 (JSON-RPC), written for the tests from the specification: its card at
/// <c>/.well-known/agent-card.json</c>; <c>SendMessage</c> answers a working task, and <c>GetTask</c> then finds it
/// completed with an artifact echoing the message's first line.</summary>
public sealed class RemoteA2aAgent : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _tasks = new();

    private RemoteA2aAgent(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public string CardUrl => $"http://127.0.0.1:{Port}/.well-known/agent-card.json";
    public ConcurrentQueue<JsonElement> Messages { get; } = new();

    public static async Task<RemoteA2aAgent> StartAsync()
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var agent = new RemoteA2aAgent(app, port);
        app.MapGet("/.well-known/agent-card.json", () => Results.Json(new
        {
            name = "Echo",
            description = "Echoes the first line of what it is asked.",
            supportedInterfaces = new[] { new { url = $"http://127.0.0.1:{port}/rpc", protocolBinding = "JSONRPC", protocolVersion = "1.0" } },
            version = "1.0.0",
            capabilities = new { streaming = false },
            defaultInputModes = new[] { "text/plain" },
            defaultOutputModes = new[] { "text/plain" },
            skills = new[] { new { id = "echo", name = "Echo", description = "Echoes", tags = new[] { "echo" } } },
        }));
        app.MapPost("/rpc", async (HttpContext http) =>
        {
            var request = await JsonDocument.ParseAsync(http.Request.Body);
            var root = request.RootElement;
            var id = JsonNode.Parse(root.GetProperty("id").GetRawText());
            var parameters = root.GetProperty("params");
            switch (root.GetProperty("method").GetString())
            {
                case "SendMessage":
                    var message = parameters.GetProperty("message").Clone();
                    agent.Messages.Enqueue(message);
                    var taskId = "remote-" + Guid.NewGuid().ToString("N")[..8];
                    var text = message.GetProperty("parts")[0].GetProperty("text").GetString()!.Split('\n')[0];
                    agent._tasks[taskId] = "echo: " + text;
                    return Results.Json(new { jsonrpc = "2.0", id, result = new { task = new { id = taskId, contextId = "ctx", status = new { state = "TASK_STATE_WORKING" } } } });
                case "GetTask":
                    var known = parameters.GetProperty("id").GetString()!;
                    if (!agent._tasks.TryGetValue(known, out var echo))
                    {
                        return Results.Json(new { jsonrpc = "2.0", id, error = new { code = -32001, message = "Task not found" } });
                    }
                    return Results.Json(new
                    {
                        jsonrpc = "2.0",
                        id,
                        result = new { id = known, contextId = "ctx", status = new { state = "TASK_STATE_COMPLETED" }, artifacts = new[] { new { artifactId = "a1", parts = new[] { new { text = echo } } } } },
                    });
                default:
                    return Results.Json(new { jsonrpc = "2.0", id, error = new { code = -32601, message = "Method not found" } });
            }
        });
        await app.StartAsync();
        return agent;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
