using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using static AgenticFlow.IntegrationTests.Memory.MemoryPlatform;

namespace AgenticFlow.IntegrationTests.Memory;

/// <summary>A platform whose providers service answers from a fake OpenAI-compatible server, with extraction on.</summary>
public sealed class ExtractionPlatform : IAsyncLifetime
{
    public FakeProvider Fake { get; private set; } = null!;
    public MemoryPlatform Memory { get; } = new();

    public async Task InitializeAsync()
    {
        Fake = await FakeProvider.StartAsync();
        Fake.Reply = """Here you go: {"entities":[{"name":"Bob Stone","type":"person"},{"name":"Initech","type":"organisation"}],"relations":[{"subject":"Bob Stone","predicate":"works at","object":"Initech"}]}""";
        await Memory.InitializeAsync(new()
        {
            ["providers"] = ProvidersHarness.Merge(
                ProvidersHarness.Provider(0, "fake-openai", "openai-compatible", $"http://127.0.0.1:{Fake.Port}/v1", "", "gpt-test"),
                new() { ["Providers__AllowPrivateEndpoints"] = "true" }),
            ["memory"] = new() { ["Memory__Extraction__Enabled"] = "true" },
        });
    }

    public async Task DisposeAsync()
    {
        await Memory.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

public sealed class MemoryExtractionTests(ExtractionPlatform p) : IClassFixture<ExtractionPlatform>
{
    [Fact]
    public async Task StoredMemories_GetEntitiesAndRelationsExtracted_OffTheWritePath_MarkedExtracted()
    {
        var m = p.Memory;
        var optedOut = await m.Store("a1", new { kind = "note", content = "Keep this one out of the graph: Zed Quill visited Umbrella.", extract = false }, AgentA1);
        var id = await m.Store("a1", new { kind = "fact", content = "Bob Stone joined Initech as chief technology officer." }, AgentA1);

        JsonElement graph = default;
        await Eventually.True(async () =>
        {
            var response = await m.Send(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Bob%20Stone", AgentA1);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            graph = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            return graph.GetProperty("edges").GetArrayLength() > 0;
        }, "the extracted relation to reach the graph", 60);

        var edge = Assert.Single(graph.GetProperty("edges").EnumerateArray());
        Assert.Equal("works_at", edge.GetProperty("predicate").GetString());
        Assert.Equal("initech", edge.GetProperty("object").GetString());
        var provenance = Assert.Single(edge.GetProperty("provenance").EnumerateArray());
        Assert.Equal("extracted", provenance.GetProperty("source").GetString());
        Assert.Equal(id, provenance.GetProperty("memoryId").GetString());
        Assert.Equal("a1", provenance.GetProperty("agentId").GetString());
        var person = graph.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("key").GetString() == "bob stone");
        Assert.Equal("person", person.GetProperty("type").GetString());
        // The model saw the memory's text and the extraction instructions; the opted-out memory never went to it.
        Assert.Contains(p.Fake.Requests, r => r.Body.Contains("Bob Stone joined Initech", StringComparison.Ordinal));
        Assert.DoesNotContain(p.Fake.Requests, r => r.Body.Contains("Zed Quill", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await m.Send(HttpMethod.Get, $"/api/v1/memory/a1/{optedOut}", AgentA1)).StatusCode);

        // Forgetting the memory's agent takes the extracted edges with it.
        await m.Json(HttpMethod.Delete, "/api/v1/memory/a1", Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Bob%20Stone", Admin)).StatusCode);
    }
}
