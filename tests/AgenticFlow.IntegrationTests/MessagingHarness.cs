using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Client;

namespace AgenticFlow.IntegrationTests;

/// <summary>The messaging service with its sidecar, reached through the sidecar as other apps reach it.</summary>
public sealed class MessagingHarness : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _parts = [];

    public HttpClient Client { get; private set; } = null!;
    public ComponentsFolder Folder { get; private set; } = null!;

    public static async Task<MessagingHarness> StartAsync(string stateKind = "sqlite", string pubsubKind = "in-memory", Dictionary<string, string>? env = null)
    {
        var harness = new MessagingHarness { Folder = new ComponentsFolder().State(stateKind, extraMetadata: ComponentsFolder.ActorStateStore).PubSub(pubsubKind, extraMetadata: "  - name: concurrency\n    value: \"8\"\n") };
        int sidecarHttp = TestSidecar.FreePort(), sidecarGrpc = TestSidecar.FreePort(), appPort = TestSidecar.FreePort();
        var appId = TestServers.NewId("messaging");
        var token = Guid.NewGuid().ToString("N");
        var service = await ServiceProcess.StartAsync("AgenticFlow.Messaging", appPort, sidecarHttp, sidecarGrpc,
            new Dictionary<string, string>(env ?? []) { ["APP_API_TOKEN"] = token });
        harness._parts.Add(service);
        var sidecar = await TestSidecar.StartAsync(appId, harness.Folder.Path, appPort, appToken: token, httpPort: sidecarHttp, grpcPort: sidecarGrpc);
        harness._parts.Insert(0, sidecar);
        harness.Client = DaprClient.CreateInvokeHttpClient(appId, $"http://127.0.0.1:{sidecarHttp}");
        return harness;
    }

    public static object Send(string agent, object body, string priority = "normal", string? idempotencyKey = null, int? ttlSeconds = null, Dictionary<string, string>? attributes = null, string kind = "agent") =>
        new { recipient = new { kind, id = agent }, priority, body, idempotencyKey, ttlSeconds, attributes };

    public async Task<string> SendAsync(object request)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/messages", request);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
    }

    public async Task<List<JsonElement>> ReceiveAsync(string agent, int max = 10, int? leaseSeconds = null, int waitSeconds = 0)
    {
        var url = $"/api/v1/messages/queue/{agent}?max={max}&waitSeconds={waitSeconds}" + (leaseSeconds is { } l ? $"&leaseSeconds={l}" : "");
        var response = await Client.GetFromJsonAsync<JsonElement>(url);
        return response.GetProperty("messages").EnumerateArray().ToList();
    }

    public Task<HttpResponseMessage> AckAsync(string agent, JsonElement message) =>
        Client.PostAsJsonAsync($"/api/v1/messages/queue/{agent}/{message.GetProperty("id").GetString()}/ack", new { leaseToken = message.GetProperty("leaseToken").GetString() });

    public async Task<int> DepthAsync(string agent) =>
        (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/queue/{agent}/stats")).GetProperty("depth").GetInt32();

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        foreach (var part in _parts)
        {
            await part.DisposeAsync();
        }
        Folder?.Dispose();
    }
}
