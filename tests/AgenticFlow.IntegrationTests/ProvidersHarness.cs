using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>The providers service as a process with its sidecar (SQLite state, file secrets holding the fake keys).</summary>
public sealed class ProvidersHarness : IAsyncDisposable
{
    public const string OpenAiKey = "sk-test-OPENAI-0123456789abcdef";
    public const string AnthropicKey = "sk-ant-test-ABCDEF9876543210";

    /// <summary>A secret of the same store that no provider setting may reach.</summary>
    public const string JwtKey = "NOT-A-PROVIDER-KEY-the-gateway-signs-with-this";

    private readonly List<IAsyncDisposable> _parts = [];
    private ComponentsFolder _folder = null!;

    public HttpClient Client { get; private set; } = null!;
    public string ComponentsPath => _folder.Path;
    public ServiceProcess Service { get; private set; } = null!;
    public int Port { get; private set; }

    public static async Task<ProvidersHarness> StartAsync(Dictionary<string, string> settings, string pubsub = "in-memory")
    {
        var harness = new ProvidersHarness { _folder = new ComponentsFolder().State("sqlite").PubSub(pubsub) };
        harness._folder.SecretStore($$"""{"provider-openai-key": "{{OpenAiKey}}", "provider-anthropic-key": "{{AnthropicKey}}", "gateway-jwt-signing-key": "{{JwtKey}}"}""");
        int http = TestSidecar.FreePort(), grpc = TestSidecar.FreePort();
        harness.Port = TestSidecar.FreePort();
        var sidecar = await TestSidecar.StartAsync(TestServers.NewId("providers"), harness._folder.Path, httpPort: http, grpcPort: grpc);
        harness._parts.Add(sidecar);
        harness.Service = await ServiceProcess.StartAsync("AgenticFlow.Providers", harness.Port, http, grpc,
            // The fake providers listen on loopback, which the service refuses unless told otherwise.
            new Dictionary<string, string> { ["Providers__AllowPrivateEndpoints"] = "true" }.Concat(settings).Concat([new("Logging__LogLevel__Default", "Information")])
                .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value));
        harness._parts.Insert(0, harness.Service);
        harness.Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{harness.Port}") };
        return harness;
    }

    /// <summary>Kills the service process (kill -9) and starts it again on the same port and sidecar: a new replica.</summary>
    public async Task KillAndRestartServiceAsync()
    {
        await Service.KillAsync();
        var again = await Service.StartAgain();
        _parts[_parts.IndexOf(Service)] = again;
        await Service.DisposeAsync();
        Service = again;
    }

    /// <summary>Configuration for one provider, as environment variables of the service.</summary>
    public static Dictionary<string, string> Provider(int index, string id, string kind, string endpoint, string keySecret, string model,
        decimal inPrice = 1m, decimal outPrice = 2m, int priority = 10, int rpm = 0)
    {
        var p = $"Providers__Items__{index}__";
        return new()
        {
            [p + "Id"] = id,
            [p + "Kind"] = kind,
            [p + "Endpoint"] = endpoint,
            [p + "ApiKeySecret"] = keySecret,
            [p + "Priority"] = priority.ToString(),
            [p + "Rpm"] = rpm.ToString(),
            [p + "Models__0__Name"] = model,
            [p + "Models__0__InputPricePer1M"] = inPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [p + "Models__0__OutputPricePer1M"] = outPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [p + "Models__0__Features__0"] = "json",
        };
    }

    public static Dictionary<string, string> Merge(params Dictionary<string, string>[] parts) =>
        parts.SelectMany(p => p).ToDictionary(kv => kv.Key, kv => kv.Value);

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
