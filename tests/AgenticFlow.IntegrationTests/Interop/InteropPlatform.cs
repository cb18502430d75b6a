using System.Net;
using System.Text.Json;
using ModelContextProtocol.Client;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>One platform for the interop tests (MCP, A2A, GenAI telemetry): every real service, the fake LLM as the
/// only provider (model gpt-test, with tools), and a generous rate limit.</summary>
public sealed class InteropPlatform : IAsyncLifetime
{
    public const string Model = "gpt-test";
    public PlatformHarness Platform { get; private set; } = null!;
    public FakeProvider Llm { get; private set; } = null!;
    public CoordinationClient Api { get; private set; } = null!;
    public OtlpReceiver Telemetry { get; private set; } = null!;
    public TestMcpServer Tools { get; private set; } = null!;

    /// <summary>The agents given a token for <see cref="Tools"/>: an agent reads only its own (<c>mcp-{agentId}-tools</c>).</summary>
    public static readonly string[] ToolUsers = ["tooluser-call", "tooluser-approve", "tooluser-reject", "tooluser-replay"];

    /// <summary>The address the gateway is told it is reached at: every card URL starts with it, whatever Host was sent.</summary>
    public const string PublicBaseUrl = "https://agents.example.test";

    public static string ToolsTokenSecret(string agentId) => $"mcp-{agentId}-tools";

    public async Task InitializeAsync()
    {
        Llm = await FakeProvider.StartAsync();
        Llm.Reply = "Done: three points.";
        Telemetry = await OtlpReceiver.StartAsync();
        Tools = await TestMcpServer.StartAsync();
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000", ["Gateway__PublicBaseUrl"] = PublicBaseUrl },
            // The test's MCP server and remote A2A agent are on loopback.
            ["agents"] = new(Telemetry.Environment()) { ["Agents__HeartbeatTimeoutSeconds"] = "86400", ["Agents__WorkRetrySeconds"] = "2", ["Agents__AllowPrivateEndpoints"] = "true" },
            ["providers"] = new(Telemetry.Environment())
            {
                ["Providers__AllowPrivateEndpoints"] = "true",
                // A scripted provider failure fails the call at once, and no breaker opens on the fake.
                ["Providers__Retries"] = "0",
                ["Providers__BreakerMinimumThroughput"] = "1000",
                ["Providers__Items__0__Id"] = "fake",
                ["Providers__Items__0__Kind"] = "openai-compatible",
                ["Providers__Items__0__Endpoint"] = $"http://127.0.0.1:{Llm.Port}/v1",
                ["Providers__Items__0__Priority"] = "1",
                ["Providers__Items__0__Models__0__Name"] = Model,
                ["Providers__Items__0__Models__0__Features__0"] = "tools",
            },
        }, extraSecrets: ToolUsers.ToDictionary(ToolsTokenSecret, _ => TestMcpServer.Token));
        Api = new CoordinationClient(Platform);
    }

    public async Task DisposeAsync()
    {
        // Each part only if it started (a failed start leaves the later ones null).
        if (Platform is not null)
        {
            await Platform.DisposeAsync();
        }
        foreach (var part in new IAsyncDisposable?[] { Llm, Telemetry, Tools })
        {
            if (part is not null)
            {
                await part.DisposeAsync();
            }
        }
    }

    /// <summary>An MCP client (the ModelContextProtocol package's) on the gateway's /mcp, authenticated by an API key.</summary>
    public Task<McpClient> McpAsync(string apiKey) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = new Uri($"http://127.0.0.1:{Platform.Port}/mcp"),
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = apiKey },
    }));

    /// <summary>An llm agent on the fake model, in a team of its own; answers the team id.</summary>
    public async Task<string> LlmTeamAsync(string agentId, string capability = "summarise")
    {
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id = agentId,
            name = agentId,
            kind = "llm",
            capabilities = new[] { new { name = capability, proficiency = 0.9 } },
            maxConcurrentTasks = 4,
            llm = new { model = Model, systemPrompt = "You summarise." },
        }, HttpStatusCode.Created);
        return await Api.FormAsync(new { name = "team-" + agentId, members = new[] { agentId } });
    }
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropPlatform>
{
    public const string Name = "interop";
}
