using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>Gateway, messaging and providers, each a process with its own sidecar, wired as dapr.yaml wires them
/// (each sidecar with its app's Configuration from dapr-config/).</summary>
public sealed class GatewayHarness : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _parts = [];
    private ComponentsFolder _folder = null!;

    public HttpClient Client { get; private set; } = null!;
    public int Port { get; private set; }

    /// <summary>The gateway's sidecar and the API token the gateway holds for it.</summary>
    public TestSidecar GatewaySidecar { get; private set; } = null!;
    public string DaprToken { get; private set; } = null!;
    public TestSidecar MessagingSidecar { get; private set; } = null!;

    private static string ConfigOf(string repo, string app) => Path.Combine(repo, "dapr-config", app + ".yaml");

    public static async Task<GatewayHarness> StartAsync(Dictionary<string, string>? gatewayEnv = null)
    {
        var harness = new GatewayHarness();
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var secrets = File.ReadAllText(Path.Combine(repo, "components/local/secrets.json"));
        harness._folder = new ComponentsFolder().State("sqlite").PubSub("in-memory").SecretStore(secrets);
        // A name registry of its own, so this harness's "messaging" is the only one its gateway can find.
        var names = new AgenticFlow.LocalRuntime.Hosting.NameRegistry(Path.Combine(harness._folder.Path, "names"));
        int mHttp = TestSidecar.FreePort(), mGrpc = TestSidecar.FreePort(), mPort = TestSidecar.FreePort();
        var messagingToken = Guid.NewGuid().ToString("N");
        var messaging = await ServiceProcess.StartAsync("AgenticFlow.Messaging", mPort, mHttp, mGrpc, new Dictionary<string, string> { ["APP_API_TOKEN"] = messagingToken });
        harness._parts.Add(messaging);
        harness.MessagingSidecar = await TestSidecar.StartAsync("messaging", harness._folder.Path, mPort, appToken: messagingToken, httpPort: mHttp, grpcPort: mGrpc, names: names, configPath: ConfigOf(repo, "messaging"));
        harness._parts.Insert(0, harness.MessagingSidecar);

        int pHttp = TestSidecar.FreePort(), pGrpc = TestSidecar.FreePort(), pPort = TestSidecar.FreePort();
        var providersToken = Guid.NewGuid().ToString("N");
        harness._parts.Add(await ServiceProcess.StartAsync("AgenticFlow.Providers", pPort, pHttp, pGrpc, new Dictionary<string, string> { ["APP_API_TOKEN"] = providersToken }));
        harness._parts.Insert(0, await TestSidecar.StartAsync("providers", harness._folder.Path, pPort, appToken: providersToken, httpPort: pHttp, grpcPort: pGrpc, names: names, configPath: ConfigOf(repo, "providers")));

        int gHttp = TestSidecar.FreePort(), gGrpc = TestSidecar.FreePort(), gPort = TestSidecar.FreePort();
        var daprToken = Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string>(gatewayEnv ?? []) { ["DAPR_API_TOKEN"] = daprToken };
        var gateway = await ServiceProcess.StartAsync("AgenticFlow.Gateway", gPort, gHttp, gGrpc, env);
        harness._parts.Add(gateway);
        harness.GatewaySidecar = await TestSidecar.StartAsync("gateway", harness._folder.Path, null, apiToken: daprToken, httpPort: gHttp, grpcPort: gGrpc, names: names, configPath: ConfigOf(repo, "gateway"));
        harness._parts.Insert(0, harness.GatewaySidecar);
        harness.DaprToken = daprToken;
        harness.Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gPort}") };
        harness.Port = gPort;
        return harness;
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string? apiKey, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }
        if (json is not null)
        {
            request.Content = System.Net.Http.Json.JsonContent.Create(json);
        }
        return request;
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        foreach (var part in _parts)
        {
            await part.DisposeAsync();
        }
        _folder?.Dispose();
    }
}
