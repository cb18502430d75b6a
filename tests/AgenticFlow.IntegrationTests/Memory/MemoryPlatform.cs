using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Memory;

/// <summary>One platform per test class (the embedding model loads once per memory process), with the memory
/// service's index in a folder of its own and short sweep and save periods.</summary>
public sealed class MemoryPlatform : IAsyncLifetime
{
    public const string Admin = "dev-admin-key", AgentA1 = "dev-agent-a1-key", AgentA2 = "dev-agent-a2-key", Viewer = "dev-viewer-key";

    public PlatformHarness Platform { get; private set; } = null!;
    public string IndexFolder { get; } = Directory.CreateTempSubdirectory("agenticflow-memory-index-").FullName;
    public string IndexPath => Path.Combine(IndexFolder, "memory.usearch");

    public Task InitializeAsync() => InitializeAsync([]);

    /// <summary>Starts the platform with more settings per app id (the memory service's are added to).</summary>
    public async Task InitializeAsync(Dictionary<string, Dictionary<string, string>> env)
    {
        var memory = new Dictionary<string, string>
        {
            ["Memory__IndexPath"] = IndexPath,
            ["Memory__IndexSaveSeconds"] = "1",
            ["Memory__SweepSeconds"] = "1",
        };
        foreach (var (k, v) in env.GetValueOrDefault("memory") ?? [])
        {
            memory[k] = v;
        }
        env["memory"] = memory;
        Platform = await PlatformHarness.StartAsync(env);
        // Ready when the gateway has read its API keys from the secret store and the memory service has loaded
        // (both happen after their processes answer /healthz; on a loaded machine that can take a while).
        await Eventually.True(async () => (await Send(HttpMethod.Get, "/api/v1/memory/index/stats", Admin)) is { StatusCode: HttpStatusCode.OK } r
            && (await r.Content.ReadAsStringAsync()).Contains("\"ready\":true", StringComparison.Ordinal), "the gateway and the memory service to be ready", 120);
    }

    public async Task DisposeAsync()
    {
        await Platform.DisposeAsync();
        Directory.Delete(IndexFolder, recursive: true);
    }

    public Task<HttpResponseMessage> Send(HttpMethod method, string path, string? key, object? body = null) =>
        Platform.Client.SendAsync(Platform.Request(method, path, key, body));

    public async Task<JsonElement> Json(HttpMethod method, string path, string? key, object? body = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await Send(method, path, key, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {expected}, got {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Stores a memory and answers its id.</summary>
    public async Task<string> Store(string agentId, object memory, string key = Admin) =>
        (await Json(HttpMethod.Post, $"/api/v1/memory/{agentId}", key, memory, HttpStatusCode.Created)).GetProperty("id").GetString()!;

    public async Task<List<string>> QueryIds(object query, string key = Admin) =>
        (await Json(HttpMethod.Post, "/api/v1/memory/query", key, query)).GetProperty("results").EnumerateArray()
            .Select(r => r.GetProperty("memory").GetProperty("id").GetString()!).ToList();

    public Task<JsonElement> Stats() => Json(HttpMethod.Get, "/api/v1/memory/index/stats", Admin);
}
