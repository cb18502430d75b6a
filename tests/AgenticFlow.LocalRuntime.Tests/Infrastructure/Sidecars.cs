using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Client;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>A sidecar of the local runtime hosted in the test process on free loopback ports, with SDK and HTTP clients.</summary>
public sealed class TestSidecar : IAsyncDisposable
{
    /// <summary>Sidecars of one test run find each other here, and nowhere else.</summary>
    public static readonly NameRegistry Names = new(Directory.CreateTempSubdirectory("agenticflow-names-").FullName);

    private readonly SidecarHost _host;
    private readonly SharedResources? _ownedShared;

    private TestSidecar(SidecarHost host, SharedResources? ownedShared, string? apiToken)
    {
        _host = host;
        _ownedShared = ownedShared;
        var builder = new DaprClientBuilder()
            .UseHttpEndpoint($"http://127.0.0.1:{host.HttpPort}")
            .UseGrpcEndpoint($"http://127.0.0.1:{host.GrpcPort}");
        if (apiToken is not null)
        {
            builder.UseDaprApiToken(apiToken);
        }
        Client = builder.Build();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        if (apiToken is not null)
        {
            Http.DefaultRequestHeaders.Add("dapr-api-token", apiToken);
        }
    }

    public DaprClient Client { get; }
    public HttpClient Http { get; }
    public Sidecar Sidecar => _host.Sidecar;
    public int HttpPort => _host.HttpPort;
    public int GrpcPort => _host.GrpcPort;

    public static async Task<TestSidecar> StartAsync(
        string appId,
        string resourcesPath,
        int? appPort = null,
        string? apiToken = null,
        string? appToken = null,
        SharedResources? shared = null,
        string? instanceId = null,
        int? httpPort = null,
        int? grpcPort = null,
        NameRegistry? names = null,
        string? configPath = null)
    {
        var options = new SidecarOptions
        {
            AppId = appId,
            AppPort = appPort,
            HttpPort = httpPort ?? FreePort(),
            GrpcPort = grpcPort ?? FreePort(),
            ResourcesPaths = [resourcesPath],
            DaprApiToken = apiToken,
            AppApiToken = appToken,
            InstanceId = instanceId,
            ConfigPath = configPath,
        };
        var owned = shared is null ? new SharedResources() : null;
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning));
        var host = await SidecarHost.StartAsync(options, ResourceLoader.Load([resourcesPath]), shared ?? owned!, names ?? Names, loggers);
        var sidecar = new TestSidecar(host, owned, apiToken);
        if (appPort is not null)
        {
            await host.Sidecar.WhenReady.WaitAsync(TimeSpan.FromSeconds(30));
        }
        return sidecar;
    }

    public static int FreePort() => LoopbackPorts.PickFree();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Http.Dispose();
        await _host.DisposeAsync();
        if (_ownedShared is not null)
        {
            await _ownedShared.DisposeAsync();
        }
    }
}
