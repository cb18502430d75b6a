using System.Collections.Concurrent;
using System.ComponentModel;
using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>A third-party MCP server on loopback (the ModelContextProtocol package's server, streamable HTTP) that an
/// llm agent is given: it takes only its bearer token and keeps every tool call with the token it came with.</summary>
public sealed class TestMcpServer : IAsyncDisposable
{
    public const string Token = "test-mcp-token-7f3a";
    private readonly WebApplication _app;

    private TestMcpServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/mcp";
    public ConcurrentQueue<(string Tool, string Argument, string Authorization)> Calls { get; } = new();

    public static async Task<TestMcpServer> StartAsync()
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        TestMcpServer? self = null;
        string Auth() => self!._app.Services.GetRequiredService<IHttpContextAccessor>().HttpContext?.Request.Headers.Authorization.ToString() ?? "";
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddMcpServer()
            .WithHttpTransport(o => o.Stateless = true)
            .WithTools([
                McpServerTool.Create([Description("The weather in a city")] (string city) =>
                {
                    self!.Calls.Enqueue(("weather", city, Auth()));
                    return $"sunny in {city}, 21 degrees";
                }, new McpServerToolCreateOptions { Name = "weather" }),
                McpServerTool.Create([Description("Deletes every record of a table")] (string table) =>
                {
                    self!.Calls.Enqueue(("purge_records", table, Auth()));
                    return $"purged 42 records from {table}";
                }, new McpServerToolCreateOptions { Name = "purge_records" }),
            ]);
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            if (context.Request.Headers.Authorization.ToString() != "Bearer " + Token)
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }
            await next(context);
        });
        app.MapMcp("/mcp");
        self = new TestMcpServer(app, port);
        await app.StartAsync();
        return self;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
