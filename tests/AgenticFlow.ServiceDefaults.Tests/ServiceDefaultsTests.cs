using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.ServiceDefaults.Tests;

/// <summary>
/// The shared service defaults, checked in a real app beside a real sidecar of the local runtime. Kept in a test
/// process of its own: OpenTelemetry's ASP.NET Core instrumentation is process-wide, and while an instrumented app
/// runs it re-parents the request activities of sidecars hosted in the same process, which broke the runtime's
/// trace propagation test whenever the two ran side by side.
/// </summary>
public sealed class ServiceDefaultsTests
{
    /// <summary>A service on its own port, its DaprClient pointed at the given sidecar ports (started before or after it).</summary>
    private static async Task<(WebApplication App, int Port)> StartService(int sidecarHttp, int sidecarGrpc, string? appToken)
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.AddDaprClient(b => b.UseHttpEndpoint($"http://127.0.0.1:{sidecarHttp}").UseGrpcEndpoint($"http://127.0.0.1:{sidecarGrpc}"));
        builder.AddServiceDefaults();
        builder.Services.Configure<AppTokenOptions>(o => o.Token = appToken);
        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/api/v1/hello", () => "hello");
        app.MapGet("/api/v1/fail", IResult () => throw new InvalidOperationException("boom"));
        await app.StartAsync();
        return (app, port);
    }

    [Fact]
    public async Task Readyz_FollowsTheSidecar_WhileHealthzOnlyNeedsTheProcess()
    {
        using var folder = new ComponentsFolder();
        var sidecar = await TestSidecar.StartAsync(TestServers.NewId("svc"), folder.Path);
        var (app, port) = await StartService(sidecar.HttpPort, sidecar.GrpcPort, null);
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
        await sidecar.DisposeAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Contains("\"openapi\"", await http.GetStringAsync("/openapi/v1.json"));
        var failure = await http.GetAsync("/api/v1/fail");
        Assert.Equal(HttpStatusCode.InternalServerError, failure.StatusCode);
        Assert.Equal("application/problem+json", failure.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("boom", await failure.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AppApiToken_LetsOnlyTheSidecarIn()
    {
        using var folder = new ComponentsFolder();
        var appId = TestServers.NewId("svc");
        int sidecarHttp = TestSidecar.FreePort(), sidecarGrpc = TestSidecar.FreePort();
        var (app, port) = await StartService(sidecarHttp, sidecarGrpc, "app-secret");
        await using var _ = app;
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path, port, appToken: "app-secret", httpPort: sidecarHttp, grpcPort: sidecarGrpc);
        using var direct = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using var viaSidecar = DaprClient.CreateInvokeHttpClient(appId, $"http://127.0.0.1:{sidecar.HttpPort}");

        var bypass = await direct.GetAsync("/api/v1/hello");
        var proper = await viaSidecar.GetStringAsync("/api/v1/hello");

        Assert.Equal(HttpStatusCode.Unauthorized, bypass.StatusCode);
        Assert.Equal("application/problem+json", bypass.Content.Headers.ContentType?.MediaType);
        Assert.Equal("hello", proper);
        Assert.Equal(HttpStatusCode.OK, (await direct.GetAsync("/healthz")).StatusCode);
    }
}
