using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// A stand-in for the coordination service's internal routes (the agents-coordination contract), served by an in-test
/// app with its own sidecar in a platform's name registry, so the agents service reaches it by Dapr invocation under
/// <see cref="AppId"/>. It records what it was sent and answers what the test sets.
/// </summary>
public sealed class CoordinationStub : IAsyncDisposable
{
    public const string AppId = "coordination-stub";

    private readonly WebApplication _app;
    private TestSidecar _sidecar = null!;

    private CoordinationStub(WebApplication app) => _app = app;

    public ConcurrentQueue<(string Path, JsonElement Body)> Calls { get; } = new();

    /// <summary>The status the drain route answers.</summary>
    public int DrainStatus { get; set; } = 200;

    /// <summary>The status the task result route answers, by task id (200 when not set).</summary>
    public ConcurrentDictionary<string, int> ResultStatus { get; } = new();

    public static async Task<CoordinationStub> StartAsync(PlatformHarness platform)
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var stub = new CoordinationStub(app);
        app.MapPost("/internal/tasks/{taskId}/result", async (string taskId, HttpContext http) =>
            Results.StatusCode(await stub.Record(http) ? stub.ResultStatus.GetValueOrDefault(taskId, 200) : 400));
        app.MapPost("/internal/agents/{agentId}/drain", async (string agentId, HttpContext http) =>
            Results.StatusCode(await stub.Record(http) ? stub.DrainStatus : 400));
        app.MapPost("/internal/consensus/{roundId}/votes", async (string roundId, HttpContext http) =>
            Results.StatusCode(await stub.Record(http) ? 200 : 400));
        await app.StartAsync();
        stub._sidecar = await TestSidecar.StartAsync(AppId, platform.ComponentsPath, port, names: new NameRegistry(Path.Combine(platform.ComponentsPath, "names")));
        return stub;
    }

    private async Task<bool> Record(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync();
        try
        {
            Calls.Enqueue((http.Request.Path, JsonDocument.Parse(text).RootElement.Clone()));
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        await _app.DisposeAsync();
    }
}
