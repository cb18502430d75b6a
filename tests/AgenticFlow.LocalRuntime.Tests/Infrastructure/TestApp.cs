using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>An ASP.NET app wired the way our services wire Dapr (UseCloudEvents, MapSubscribeHandler, WithTopic),
/// listening on a free loopback port for its sidecar to call.</summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApp(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>What the app saw, by route: body and headers of every request.</summary>
    public ConcurrentQueue<(string Path, string Body, IReadOnlyDictionary<string, string> Headers)> Requests { get; } = new();

    /// <summary>Every request target exactly as it arrived, before any decoding.</summary>
    public ConcurrentQueue<string> RawTargets { get; } = new();

    public static async Task<TestApp> StartAsync(Action<WebApplication, TestApp> map)
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.AddRouting();
        var app = builder.Build();
        var testApp = new TestApp(app, port);
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            using var reader = new StreamReader(context.Request.Body, leaveOpen: true);
            var body = await reader.ReadToEndAsync();
            context.Request.Body.Position = 0;
            testApp.RawTargets.Enqueue(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget);
            testApp.Requests.Enqueue((context.Request.Path + context.Request.QueryString, body,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            await next(context);
        });
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        map(app, testApp);
        await app.StartAsync();
        return testApp;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

public static class Eventually
{
    /// <summary>Waits for a condition that the system under test makes true asynchronously; fails after the limit.</summary>
    public static async Task True(Func<bool> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out after {seconds}s waiting for: {what}");
            }
            await Task.Delay(25);
        }
    }

    public static async Task True(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out after {seconds}s waiting for: {what}");
            }
            await Task.Delay(25);
        }
    }
}
