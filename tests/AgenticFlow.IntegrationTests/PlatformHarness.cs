using System.Xml.Linq;
using AgenticFlow.LocalRuntime.Cli;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// The whole platform as dapr.yaml describes it: every app a process with its own sidecar (with the app's
/// Configuration from dapr-config/), the gateway last. An app added to dapr.yaml is started here with no change.
/// </summary>
public sealed class PlatformHarness : IAsyncDisposable
{
    private ComponentsFolder _folder = null!;
    private bool _ownsFolder;
    private IReadOnlySet<string> _processSidecars = new HashSet<string>();
    private string _names = null!;
    private bool _sidecarTracing;
    private int _monitoringPort;

    /// <summary>What the in-process sidecars share, as the sidecars of one <c>run -f</c> do: the in-memory pub/sub
    /// among them, so one app's events reach another's subscriptions.</summary>
    private readonly AgenticFlow.LocalRuntime.Components.SharedResources _shared = new();

    public HttpClient Client { get; private set; } = null!;
    public int Port { get; private set; }

    /// <summary>Every app's sidecar, service process and app token, by app id.</summary>
    public Dictionary<string, TestSidecar> Sidecars { get; } = new(StringComparer.Ordinal);

    /// <summary>Sidecars started as their own OS processes (so a test can kill -9 them), by app id.</summary>
    public Dictionary<string, RuntimeProcess> SidecarProcesses { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ServiceProcess> Services { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> AppTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>The API token each app's sidecar requires of its app, by app id.</summary>
    public Dictionary<string, string> ApiTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>The gateway's sidecar and the API token the gateway holds for it.</summary>
    public TestSidecar GatewaySidecar => Sidecars["gateway"];
    public string DaprToken { get; private set; } = null!;
    public TestSidecar MessagingSidecar => Sidecars["messaging"];
    public string ComponentsPath => _folder.Path;

    public static string Repository { get; } = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));

    /// <summary>The apps of the repository's run file.</summary>
    public static IReadOnlyList<RunApp> Apps { get; } = RunFile.Load(Path.Combine(Repository, "dapr.yaml"));

    /// <summary>Starts every app. <paramref name="env"/> adds settings per app id; <paramref name="folder"/> replaces the
    /// default components (SQLite state, in-memory pub/sub, the repository's development secrets); the sidecars of
    /// <paramref name="processSidecars"/> run as their own processes. With <paramref name="sidecarTracing"/> the sidecars
    /// record and send their spans to this platform's monitoring service as their Configurations say; without it
    /// (the default, as services export no telemetry unless a test asks) their sampling rate is 0.</summary>
    public static async Task<PlatformHarness> StartAsync(Dictionary<string, Dictionary<string, string>>? env = null, ComponentsFolder? folder = null, IReadOnlySet<string>? processSidecars = null,
        IReadOnlyDictionary<string, string>? extraSecrets = null, bool sidecarTracing = false)
    {
        var harness = new PlatformHarness { _folder = folder ?? new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore).PubSub("in-memory"), _ownsFolder = folder is null, _processSidecars = processSidecars ?? new HashSet<string>(),
            _sidecarTracing = sidecarTracing, _monitoringPort = TestSidecar.FreePort() };
        // The development secrets, plus any a test adds (tokens of its own test servers).
        var secrets = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Repository, "components/local/secrets.json")))!.AsObject();
        foreach (var (name, value) in extraSecrets ?? new Dictionary<string, string>())
        {
            secrets[name] = value;
        }
        harness._folder.SecretStore(secrets.ToJsonString());
        // A name registry of its own, so this platform's apps find only each other.
        harness._names = Path.Combine(harness._folder.Path, "names");
        var names = new AgenticFlow.LocalRuntime.Peers.NameRegistry(harness._names);
        try
        {
            foreach (var app in Apps.OrderBy(a => a.AppId == "gateway"))
            {
                await harness.StartAppAsync(app, env?.GetValueOrDefault(app.AppId) ?? [], names);
            }
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
        harness.Port = harness.Services["gateway"].Port;
        harness.Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{harness.Port}") };
        // The gateway's sidecar is started last and not awaited (it calls no app): wait until the gateway reports it
        // ready, so its first credential load is not still failing when a test's first request arrives on a busy machine.
        // /readyz takes no rate-limit token.
        try
        {
            await Eventually.True(async () =>
            {
                try
                {
                    return (await harness.Client.GetAsync("/readyz")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the gateway and its sidecar to be ready", 60);
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
        return harness;
    }

    /// <summary>Gateway settings only: the common case.</summary>
    public static Task<PlatformHarness> StartAsync(Dictionary<string, string> gatewayEnv) =>
        StartAsync(new Dictionary<string, Dictionary<string, string>> { ["gateway"] = gatewayEnv });

    private async Task StartAppAsync(RunApp app, Dictionary<string, string> extraEnv, AgenticFlow.LocalRuntime.Peers.NameRegistry names)
    {
        int http = TestSidecar.FreePort(), grpc = TestSidecar.FreePort(), port = app.AppId == "monitoring" ? _monitoringPort : TestSidecar.FreePort();
        var isGateway = app.AppId == "gateway";
        var configPath = PlatformConfiguration(app);
        // Every app calls its sidecar with an API token, as under tools/run.sh and Kubernetes (a service that forgot to
        // pass it was refused there while every test passed), and every sidecar calls its app with an app token.
        var apiToken = Guid.NewGuid().ToString("N");
        var appToken = isGateway ? null : Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string>(extraEnv) { ["DAPR_API_TOKEN"] = apiToken };
        ApiTokens[app.AppId] = apiToken;
        if (isGateway)
        {
            DaprToken = apiToken;
        }
        else
        {
            env["APP_API_TOKEN"] = AppTokens[app.AppId] = appToken!;
        }
        Services[app.AppId] = await ServiceProcess.StartAsync(AssemblyOf(app), port, http, grpc, env);
        if (_processSidecars.Contains(app.AppId))
        {
            var tokens = new Dictionary<string, string> { ["DAPR_API_TOKEN"] = apiToken };
            if (appToken is not null)
            {
                tokens["APP_API_TOKEN"] = appToken;
            }
            SidecarProcesses[app.AppId] = await RuntimeProcess.StartAsync(app.AppId, _folder.Path, isGateway ? null : port, http, grpc, _names, configPath, tokens);
            return;
        }
        Sidecars[app.AppId] = await TestSidecar.StartAsync(app.AppId, _folder.Path, isGateway ? null : port,
            apiToken: apiToken, appToken: appToken, shared: _shared, httpPort: http, grpcPort: grpc, names: names, configPath: configPath);
    }

    /// <summary>The app's Configuration with its Zipkin endpoint on this platform's monitoring service (and a sampling
    /// rate of 0 unless the platform traces its sidecars), in the platform's folder.</summary>
    private string? PlatformConfiguration(RunApp app)
    {
        if (app.ConfigPath is null)
        {
            return null;
        }
        var text = System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(app.ConfigPath), "endpointAddress: \"[^\"]*\"",
            $"endpointAddress: \"http://127.0.0.1:{_monitoringPort}/api/v2/spans\"");
        if (!_sidecarTracing)
        {
            text = System.Text.RegularExpressions.Regex.Replace(text, "samplingRate: \"[^\"]*\"", "samplingRate: \"0\"");
        }
        var folder = Directory.CreateDirectory(Path.Combine(_folder.Path, "dapr-config")).FullName;
        var path = Path.Combine(folder, Path.GetFileName(app.ConfigPath));
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>kill -9 of an app's service process, then (when asked) the same service started again.</summary>
    public Task KillServiceAsync(string appId) => Services[appId].KillAsync();

    public async Task RestartServiceAsync(string appId) => Services[appId] = await Services[appId].StartAgain();

    /// <summary>kill -9 of an app's sidecar process (see <c>processSidecars</c>), and the same sidecar started again.</summary>
    public Task KillSidecarAsync(string appId) => SidecarProcesses[appId].KillAsync();

    public async Task RestartSidecarAsync(string appId) => SidecarProcesses[appId] = await SidecarProcesses[appId].StartAgain();

    /// <summary>The assembly an app's project builds (its AssemblyName, or the project file's name); the project is the
    /// one its command names with <c>--project</c>, or the one in its appDirPath.</summary>
    public static string AssemblyOf(RunApp app)
    {
        var named = app.Command.SkipWhile(a => a != "--project").Skip(1).FirstOrDefault();
        var folder = named is null ? app.AppDirPath : Path.Combine(app.AppDirPath, named);
        var project = named is not null && named.EndsWith(".csproj", StringComparison.Ordinal) ? folder : Directory.GetFiles(folder, "*.csproj").Single();
        return XDocument.Load(project).Descendants("AssemblyName").FirstOrDefault()?.Value ?? Path.GetFileNameWithoutExtension(project);
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
        // Each part on its own, so one that fails to stop leaves none of the others running.
        var parts = Sidecars.Values.Cast<IAsyncDisposable>().Concat(SidecarProcesses.Values).Concat(Services.Values).ToList();
        var failures = new List<Exception>();
        foreach (var part in parts)
        {
            try
            {
                await part.DisposeAsync();
            }
            catch (Exception ex)
            {
                failures.Add(ex);
            }
        }
        await _shared.DisposeAsync();
        if (_ownsFolder)
        {
            _folder?.Dispose();
        }
        if (failures.Count > 0)
        {
            throw new AggregateException("stopping the platform", failures);
        }
    }
}
