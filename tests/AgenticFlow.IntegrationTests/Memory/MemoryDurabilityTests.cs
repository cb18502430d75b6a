using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using static AgenticFlow.IntegrationTests.Memory.MemoryPlatform;

namespace AgenticFlow.IntegrationTests.Memory;

/// <summary>The memory service killed and started again: the saved index is reused, a lost one is rebuilt from the
/// records, and no acknowledged write is lost to kill -9.</summary>
public sealed class MemoryDurabilityTests(MemoryPlatform m) : IClassFixture<MemoryPlatform>
{
    private async Task RestartMemory()
    {
        await m.Platform.KillServiceAsync("memory");
        await m.Platform.RestartServiceAsync("memory");
        await Eventually.True(async () => (await m.Send(HttpMethod.Get, "/api/v1/memory/index/stats", Admin)) is { StatusCode: HttpStatusCode.OK } r
            && (await r.Content.ReadAsStringAsync()).Contains("\"ready\":true"), "the memory service to load again", 90);
    }

    [Fact]
    public async Task TheIndex_SurvivesARestart_AndIsRebuiltWhenItsFileIsLost()
    {
        var ids = new List<string>();
        foreach (var (text, i) in RecallCorpus.Memories.Take(12).Select((t, i) => (t, i)))
        {
            ids.Add(await m.Store("durable", new { kind = "fact", content = text }));
        }
        var total = (await m.Stats()).GetProperty("vectors").GetInt32();
        await Eventually.True(async () => (await m.Stats()).GetProperty("savedVectors").GetInt32() == total, "the index to be saved", 30);

        await RestartMemory();
        var reloaded = await m.Stats();
        Assert.Equal("file", reloaded.GetProperty("source").GetString());
        Assert.Equal(total, reloaded.GetProperty("loadedFromFile").GetInt32());
        Assert.Equal(total, reloaded.GetProperty("vectors").GetInt32());
        Assert.Contains(ids[0], await m.QueryIds(new { text = "Why did last night's release break?", agentId = "durable", topK = 3, mode = "semantic" }));

        await m.Platform.KillServiceAsync("memory");
        foreach (var file in Directory.GetFiles(m.IndexFolder))
        {
            File.Delete(file);
        }
        await m.Platform.RestartServiceAsync("memory");
        await Eventually.True(async () => (await m.Send(HttpMethod.Get, "/api/v1/memory/index/stats", Admin)) is { StatusCode: HttpStatusCode.OK } r
            && (await r.Content.ReadAsStringAsync()).Contains("\"ready\":true"), "the memory service to load again", 90);
        var rebuilt = await m.Stats();
        Assert.Equal("rebuilt", rebuilt.GetProperty("source").GetString());
        Assert.Equal(total, rebuilt.GetProperty("vectors").GetInt32());
        Assert.Contains(ids[0], await m.QueryIds(new { text = "Why did last night's release break?", agentId = "durable", topK = 3, mode = "semantic" }));
        await Eventually.True(() => File.Exists(m.IndexPath), "the rebuilt index to be saved again", 30);
    }

    [Fact]
    public async Task KillMinus9_DuringWrites_LosesNothingAcknowledged()
    {
        var acknowledged = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    var response = await m.Send(HttpMethod.Post, "/api/v1/memory/crashy", Admin,
                        new { kind = "experience", content = $"Writer {w} step {n}: calibrated sensor batch {w * 1000 + n}.", outcome = "success" });
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add((await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!);
                    }
                }
                catch (HttpRequestException)
                {
                    // The service is down: the write was not acknowledged, so nothing is owed for it.
                }
            }
        })).ToList();

        await Eventually.True(() => acknowledged.Count >= 20, "some writes to be acknowledged", 60);
        await m.Platform.KillServiceAsync("memory");
        var beforeRestart = acknowledged.Count;
        await m.Platform.RestartServiceAsync("memory");
        await Eventually.True(() => acknowledged.Count >= beforeRestart + 10, "writes to be acknowledged again after the restart", 90);
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        var listed = new HashSet<string>();
        for (var offset = 0; ; offset += 200)
        {
            var page = await m.Json(HttpMethod.Get, $"/api/v1/memory/crashy/experiences?offset={offset}&limit=200", Admin);
            var items = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList();
            listed.UnionWith(items);
            if (items.Count < 200)
            {
                break;
            }
        }
        var lost = acknowledged.Where(id => !listed.Contains(id)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged memories were lost: {string.Join(", ", lost.Take(5))}");
        var sample = acknowledged.First();
        Assert.Equal(HttpStatusCode.OK, (await m.Send(HttpMethod.Get, $"/api/v1/memory/crashy/{sample}", Admin)).StatusCode);
        // Every acknowledged memory is searchable again too (the index was rebuilt from the records where the file lagged).
        Assert.Equal(listed.Count, (await m.Stats()).GetProperty("vectors").GetInt32() - (await m.Json(HttpMethod.Get, "/api/v1/memory/durable/memories?limit=200", Admin)).GetProperty("total").GetInt32());
    }
}
