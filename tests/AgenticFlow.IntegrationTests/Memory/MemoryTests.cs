using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using System.Net;
using System.Text.Json;
using static AgenticFlow.IntegrationTests.Memory.MemoryPlatform;

namespace AgenticFlow.IntegrationTests.Memory;

/// <summary>The memory service through the gateway: recall, filters, isolation, TTL, the graph, forgetting, bad input.</summary>
public sealed class MemoryTests(MemoryPlatform m) : IClassFixture<MemoryPlatform>
{
    [Fact]
    public async Task ParaphrasedQuestions_FindTheRightMemory_InTheTopThree()
    {
        var ids = new string[RecallCorpus.Memories.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, ids.Length), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
            ids[i] = await m.Store("recall", new { kind = "fact", content = RecallCorpus.Memories[i], tags = new[] { "corpus" } }));

        var hits = 0;
        var misses = new List<string>();
        foreach (var (question, answer) in RecallCorpus.Paraphrases)
        {
            var top = await m.QueryIds(new { text = question, agentId = "recall", topK = 3, mode = "semantic" });
            Assert.True(top.Count == 3, $"three results for {question}");
            if (top.Contains(ids[answer]))
            {
                hits++;
            }
            else
            {
                misses.Add(question);
            }
        }
        Assert.True(hits >= 18, $"{hits}/20 paraphrases found their memory in the top 3; missed: {string.Join(" | ", misses)}");
    }

    [Fact]
    public async Task KeywordMode_RanksByBm25_AndHybridFusesBoth()
    {
        var code = await m.Store("kw", new { kind = "note", content = "Incident ZX-4471: the ingest worker crashed on a malformed parquet footer." });
        await m.Store("kw", new { kind = "note", content = "The ingest worker processes files from the landing bucket every five minutes." });
        var meaning = await m.Store("kw", new { kind = "note", content = "Our evening batch importer fell over when it read a corrupted columnar file." });

        var keyword = await m.Json(HttpMethod.Post, "/api/v1/memory/query", Admin, new { text = "ZX-4471 parquet", agentId = "kw", mode = "keyword", topK = 3 });
        Assert.Equal("keyword", keyword.GetProperty("mode").GetString());
        var keywordHits = keyword.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(code, keywordHits[0].GetProperty("memory").GetProperty("id").GetString());
        Assert.True(keywordHits[0].GetProperty("keywordScore").GetDouble() > 0);
        // A keyword search finds only what shares words: the paraphrase with none of them is not among the results.
        Assert.DoesNotContain(keywordHits, h => h.GetProperty("memory").GetProperty("id").GetString() == meaning);

        var hybrid = await m.Json(HttpMethod.Post, "/api/v1/memory/query", Admin, new { text = "ZX-4471 batch import crashed on a broken file", agentId = "kw", mode = "hybrid", topK = 3 });
        var hybridHits = hybrid.GetProperty("results").EnumerateArray().ToList();
        // The exact code (found by keyword) and the paraphrase (found by meaning) both rank above the unrelated note.
        Assert.Equal(new[] { code, meaning }.Order(), hybridHits.Take(2).Select(h => h.GetProperty("memory").GetProperty("id").GetString()!).Order());
        var codeHit = hybridHits.Single(h => h.GetProperty("memory").GetProperty("id").GetString() == code);
        Assert.True(codeHit.GetProperty("semanticScore").ValueKind == JsonValueKind.Number && codeHit.GetProperty("keywordScore").ValueKind == JsonValueKind.Number);
    }

    [Fact]
    public async Task Filters_NarrowQueriesAndListings_NewestFirst_WithPaging()
    {
        var success = await m.Store("flt", new { kind = "experience", content = "Retried the flaky upload with backoff and it worked.", task = "upload report", action = "retry with backoff", outcome = "success", score = 0.9, tags = new[] { "uploads", "retry" } });
        var failure = await m.Store("flt", new { kind = "experience", content = "Uploading the report without retries failed on a timeout.", task = "upload report", outcome = "failure", tags = new[] { "uploads" } });
        var fact = await m.Store("flt", new { kind = "fact", content = "Uploads go to the reports bucket.", tags = new[] { "uploads" } });
        var later = await m.Store("flt", new { kind = "experience", content = "Compressed the report before uploading; it went through quickly.", outcome = "success", tags = new[] { "uploads", "compression" } });

        var successes = await m.QueryIds(new { text = "how to upload the report", agentId = "flt", topK = 10, filters = new { kind = "experience", outcome = "success" } });
        Assert.Equal(new[] { success, later }.Order(), successes.Order());
        var tagged = await m.QueryIds(new { text = "upload", agentId = "flt", topK = 10, mode = "keyword", filters = new { tags = new[] { "uploads", "retry" } } });
        Assert.Equal([success], tagged);
        var facts = await m.QueryIds(new { text = "where do uploads go", agentId = "flt", filters = new { kinds = new[] { "fact" } } });
        Assert.Equal([fact], facts);

        var all = await m.Json(HttpMethod.Get, "/api/v1/memory/flt/experiences", Admin);
        Assert.Equal(3, all.GetProperty("total").GetInt32());
        Assert.Equal([later, failure, success], all.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList());
        var page = await m.Json(HttpMethod.Get, "/api/v1/memory/flt/experiences?offset=1&limit=1", Admin);
        Assert.Equal(failure, page.GetProperty("items")[0].GetProperty("id").GetString());
        var failures = await m.Json(HttpMethod.Get, "/api/v1/memory/flt/experiences?outcome=failure", Admin);
        Assert.Equal(failure, Assert.Single(failures.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var laterAt = (await m.Json(HttpMethod.Get, $"/api/v1/memory/flt/{later}", Admin)).GetProperty("createdAt").GetDateTimeOffset();
        var since = await m.Json(HttpMethod.Get, $"/api/v1/memory/flt/experiences?from={Uri.EscapeDataString(laterAt.ToString("O"))}", Admin);
        Assert.Equal(later, Assert.Single(since.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var compression = await m.Json(HttpMethod.Get, "/api/v1/memory/flt/experiences?tags=compression", Admin);
        Assert.Equal(later, Assert.Single(compression.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task AnAgent_ReadsAndWritesOnlyItsOwnMemory_ViewersRead()
    {
        var own = await m.Store("a1", new { kind = "note", content = "a1 keeps its deployment checklist in the wiki" }, AgentA1);
        await m.Store("a2", new { kind = "note", content = "a2 keeps its deployment checklist in a spreadsheet" }, AgentA2);

        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Get, $"/api/v1/memory/a1/{own}", AgentA2)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Get, "/api/v1/memory/a1/experiences", AgentA2)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Post, "/api/v1/memory/a1", AgentA2, new { kind = "note", content = "planted" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Delete, "/api/v1/memory/a1", AgentA2)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Post, "/api/v1/memory/query", AgentA2, new { text = "deployment checklist", agentId = "a1" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Post, "/api/v1/memory/query", AgentA2, new { text = "deployment checklist", scope = "all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Post, "/api/v1/memory/a1", Viewer, new { kind = "note", content = "viewer write" })).StatusCode);

        // With no scope named, an agent searches its own memories only.
        var a2Search = await m.Json(HttpMethod.Post, "/api/v1/memory/query", AgentA2, new { text = "where is the deployment checklist", topK = 10 });
        Assert.All(a2Search.GetProperty("results").EnumerateArray(), r => Assert.Equal("a2", r.GetProperty("memory").GetProperty("agentId").GetString()));
        Assert.NotEmpty(a2Search.GetProperty("results").EnumerateArray());
        Assert.Contains(own, await m.QueryIds(new { text = "where is the deployment checklist", agentId = "a1" }, AgentA1));
        Assert.Equal(own, (await m.Json(HttpMethod.Get, $"/api/v1/memory/a1/{own}", Viewer)).GetProperty("id").GetString());
        var a1Listed = await m.Json(HttpMethod.Get, "/api/v1/memory/a1/memories", AgentA1);
        Assert.Contains(own, a1Listed.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.Unauthorized, (await m.Send(HttpMethod.Get, "/api/v1/memory/a1/memories", null)).StatusCode);

        // The cache: an agent's keys are its own.
        await m.Json(HttpMethod.Put, "/api/v1/memory/cache/plan", AgentA1, new { value = new { step = 3 } }, HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, "/api/v1/memory/cache/plan", AgentA2)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Get, "/api/v1/memory/cache/plan?agentId=a1", AgentA2)).StatusCode);
        Assert.Equal(3, (await m.Json(HttpMethod.Get, "/api/v1/memory/cache/plan?agentId=a1", Viewer)).GetProperty("value").GetProperty("step").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, (await m.Send(HttpMethod.Put, "/api/v1/memory/cache/plan", Viewer, new { value = 1 })).StatusCode);
    }

    [Fact]
    public async Task Ttl_ExpiresMemoriesAndCacheEntries()
    {
        var brief = await m.Store("ttl", new { kind = "note", content = "The temporary door code for the lab is 4812.", ttlSeconds = 2 });
        var lasting = await m.Store("ttl", new { kind = "note", content = "The lab door code changes every month." });
        await m.Json(HttpMethod.Put, "/api/v1/memory/cache/session?agentId=ttl", Admin, new { value = "hot", ttlSeconds = 2 }, HttpStatusCode.Created);
        var replaced = await m.Json(HttpMethod.Put, "/api/v1/memory/cache/session?agentId=ttl", Admin, new { value = "hotter", ttlSeconds = 2 });
        Assert.Equal("hotter", replaced.GetProperty("value").GetString());
        Assert.Contains(brief, await m.QueryIds(new { text = "lab door code", agentId = "ttl", mode = "keyword" }));

        await Eventually.True(async () => (await m.Send(HttpMethod.Get, $"/api/v1/memory/ttl/{brief}", Admin)).StatusCode == HttpStatusCode.NotFound, "the memory to expire", 30);
        await Eventually.True(async () => (await m.Send(HttpMethod.Get, "/api/v1/memory/cache/session?agentId=ttl", Admin)).StatusCode == HttpStatusCode.NotFound, "the cache entry to expire", 30);
        Assert.Equal([lasting], await m.QueryIds(new { text = "lab door code", agentId = "ttl", mode = "keyword" }));
        var listed = await m.Json(HttpMethod.Get, "/api/v1/memory/ttl/memories", Admin);
        Assert.Equal([lasting], listed.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList());
    }

    [Fact]
    public async Task AContradictingFact_ClosesTheOldEdge_AndAsOfStillSeesIt()
    {
        var first = await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/relations", AgentA1,
            new { subject = "Alice Chen", predicate = "works at", @object = "Acme", validFrom = "2024-01-01T00:00:00Z" });
        Assert.True(first.GetProperty("created").GetBoolean());
        var acmeEdge = first.GetProperty("relation").GetProperty("id").GetString();
        var second = await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/relations", AgentA1,
            new { subject = "alice chen", predicate = "works_at", @object = "Globex", validFrom = "2025-06-01T00:00:00Z" });
        var closed = Assert.Single(second.GetProperty("closed").EnumerateArray());
        Assert.Equal(acmeEdge, closed.GetProperty("id").GetString());
        Assert.Equal(DateTimeOffset.Parse("2025-06-01T00:00:00Z"), closed.GetProperty("validTo").GetDateTimeOffset());

        var now = await m.Json(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Alice%20Chen", AgentA1);
        var edge = Assert.Single(now.GetProperty("edges").EnumerateArray());
        Assert.Equal("globex", edge.GetProperty("object").GetString());
        var provenance = Assert.Single(edge.GetProperty("provenance").EnumerateArray());
        Assert.Equal("a1", provenance.GetProperty("agentId").GetString());
        var before = await m.Json(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Alice%20Chen&asOf=2025-01-01T00:00:00Z", AgentA1);
        Assert.Equal("acme", Assert.Single(before.GetProperty("edges").EnumerateArray()).GetProperty("object").GetString());
        var history = await m.Json(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Alice%20Chen&history=true", Viewer);
        Assert.Equal(2, history.GetProperty("edges").GetArrayLength());
        // Another agent sees none of a1's assertions.
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Alice%20Chen", AgentA2)).StatusCode);
        // ...and cannot close them: a2's contradicting fact closes only a2's own facts.
        var rival = await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/relations", AgentA2,
            new { subject = "Alice Chen", predicate = "works_at", @object = "Initech", singleValued = true });
        Assert.Equal(0, rival.GetProperty("closed").GetArrayLength());
        var stillOpen = await m.Json(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Alice%20Chen", AgentA1);
        Assert.Equal("globex", Assert.Single(stillOpen.GetProperty("edges").EnumerateArray()).GetProperty("object").GetString());
        // An entity a1 described keeps a1's attributes when a2 merges into it, and a2 is not shown them.
        await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/entities", AgentA1, new { name = "Vault", type = "system", attributes = new Dictionary<string, string> { ["owner"] = "a1" } });
        var merged = await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/entities", AgentA2, new { name = "Vault", type = "toy", attributes = new Dictionary<string, string> { ["owner"] = "a2" } });
        Assert.Empty(merged.GetProperty("attributes").EnumerateObject());
        var seenByAdmin = await m.Json(HttpMethod.Post, "/api/v1/memory/knowledge-graph/entities", Admin, new { name = "Vault" });
        Assert.Equal("a1", seenByAdmin.GetProperty("attributes").GetProperty("owner").GetString());
        Assert.Equal("system", seenByAdmin.GetProperty("type").GetString());

        // A memory's own entities and relations join the graph, and graphDepth brings them back with the memory.
        await m.Store("a1", new
        {
            kind = "fact", content = "Globex's data platform team is led by Alice Chen.",
            entities = new[] { new { name = "Globex", type = "company" } },
            relations = new[] { new { subject = "Alice Chen", predicate = "leads", @object = "Data Platform Team" } },
        }, AgentA1);
        var answer = await m.Json(HttpMethod.Post, "/api/v1/memory/query", AgentA1, new { text = "who runs the data platform group at Globex", topK = 1, graphDepth = 2 });
        var nodes = answer.GetProperty("graph").GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("key").GetString()).ToList();
        Assert.Contains("alice chen", nodes);
        Assert.Contains("data platform team", nodes);
        var edges = answer.GetProperty("graph").GetProperty("edges").EnumerateArray().Select(e => e.GetProperty("predicate").GetString()).ToList();
        Assert.Contains("leads", edges);
        Assert.Contains("works_at", edges);
    }

    [Fact]
    public async Task ForgettingAnAgent_LeavesNothing_OfItsRecordsIndexEntriesOrEdges()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await m.Store("leaver", new
            {
                kind = i == 0 ? "experience" : "fact", content = $"Leaver note {i}: the staging cluster password rotates weekly ({i}).",
                relations = new[] { new { subject = "Staging Cluster", predicate = "managed by", @object = "Platform Team" }, new { subject = "Leaver Bot", predicate = "owns", @object = $"Runbook {i}" } },
            }));
        }
        await m.Store("keeper", new { kind = "fact", content = "The staging cluster is managed by the platform team.",
            relations = new[] { new { subject = "Staging Cluster", predicate = "managed by", @object = "Platform Team" } } });
        await m.Json(HttpMethod.Put, "/api/v1/memory/cache/scratch?agentId=leaver", Admin, new { value = 42 }, HttpStatusCode.Created);
        var vectorsBefore = (await m.Stats()).GetProperty("vectors").GetInt32();

        var forgotten = await m.Json(HttpMethod.Delete, "/api/v1/memory/leaver", Admin);
        Assert.Equal(3, forgotten.GetProperty("memoriesForgotten").GetInt32());

        Assert.Equal(vectorsBefore - 3, (await m.Stats()).GetProperty("vectors").GetInt32());
        Assert.Equal(0, (await m.Json(HttpMethod.Get, "/api/v1/memory/leaver/memories", Admin)).GetProperty("total").GetInt32());
        foreach (var id in ids)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, $"/api/v1/memory/leaver/{id}", Admin)).StatusCode);
        }
        var everywhere = await m.QueryIds(new { text = "staging cluster password rotates weekly", scope = "all", topK = 100, mode = "hybrid" });
        Assert.DoesNotContain(everywhere, ids.Contains);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, "/api/v1/memory/cache/scratch?agentId=leaver", Admin)).StatusCode);
        // Edges it alone supported are gone; the shared one stays, with only the keeper's provenance.
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Leaver%20Bot", Admin)).StatusCode);
        var shared = await m.Json(HttpMethod.Get, "/api/v1/memory/knowledge-graph?entity=Staging%20Cluster", Admin);
        var edge = Assert.Single(shared.GetProperty("edges").EnumerateArray());
        Assert.All(edge.GetProperty("provenance").EnumerateArray(), p => Assert.Equal("keeper", p.GetProperty("agentId").GetString()));
        Assert.All(shared.GetProperty("nodes").EnumerateArray(), n => Assert.DoesNotContain(n.GetProperty("provenance").EnumerateArray(), p => p.GetProperty("agentId").GetString() == "leaver"));

        // And in the store itself: no record, no list of the agent's memories, no cache entry.
        var state = m.Platform.Sidecars["memory"].Client;
        foreach (var id in ids)
        {
            Assert.Null(await state.GetStateAsync<JsonElement?>("statestore", $"memory:leaver:{id}"));
        }
        Assert.Null(await state.GetStateAsync<JsonElement?>("statestore", "agent-memories:leaver:0"));
        Assert.Null(await state.GetStateAsync<JsonElement?>("statestore", "cache:leaver:scratch"));
        var agents = await state.GetStateAsync<JsonElement?>("statestore", "agents:0");
        Assert.DoesNotContain("leaver", agents!.Value.GetProperty("ids").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task BadInput_Is400_AndStoresNothing()
    {
        var before = (await m.Stats()).GetProperty("memories").GetInt32();
        object[] bad =
        [
            new { content = "no kind" },
            new { kind = "memo", content = "unknown kind" },
            new { kind = "note" },
            new { kind = "note", content = "   " },
            new { kind = "note", content = new string('x', 8_001) },
            new { kind = "experience", content = "bad outcome", outcome = "meh" },
            new { kind = "note", content = "bad importance", importance = 1.5 },
            new { kind = "note", content = "bad ttl", ttlSeconds = 0 },
            new { kind = "note", content = "bad tags", tags = new[] { "" } },
            new { kind = "note", content = "bad relation", relations = new[] { new { subject = "a", predicate = "", @object = "b" } } },
        ];
        foreach (var body in bad)
        {
            var response = await m.Send(HttpMethod.Post, "/api/v1/memory/badinput", Admin, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        var malformed = new HttpRequestMessage(HttpMethod.Post, "/api/v1/memory/badinput") { Content = new StringContent("{\"kind\": \"note\", \"content\": ", System.Text.Encoding.UTF8, "application/json") };
        malformed.Headers.Add("X-Api-Key", Admin);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.Platform.Client.SendAsync(malformed)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.Send(HttpMethod.Post, "/api/v1/memory/query", Admin, new { text = "", agentId = "badinput" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.Send(HttpMethod.Post, "/api/v1/memory/query", Admin, new { text = "x", agentId = "badinput", mode = "fuzzy" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await m.Send(HttpMethod.Post, "/api/v1/memory/knowledge-graph/relations", Admin, new { subject = "x" })).StatusCode);

        Assert.Equal(before, (await m.Stats()).GetProperty("memories").GetInt32());
        Assert.Equal(0, (await m.Json(HttpMethod.Get, "/api/v1/memory/badinput/memories", Admin)).GetProperty("total").GetInt32());
        Assert.Null(await m.Platform.Sidecars["memory"].Client.GetStateAsync<JsonElement?>("statestore", "agent-memories:badinput:0"));
    }

    [Fact]
    public async Task Experiences_AreAppendOnly_FactsCanBeDeleted()
    {
        var experience = await m.Store("appender", new { kind = "experience", content = "Tried restarting the queue consumer; the backlog cleared.", outcome = "success" });
        var note = await m.Store("appender", new { kind = "note", content = "Consumer restarts are safe during business hours." });

        var refused = await m.Send(HttpMethod.Delete, $"/api/v1/memory/appender/{experience}", Admin);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("experience-append-only", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await m.Send(HttpMethod.Delete, $"/api/v1/memory/appender/{note}", Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Send(HttpMethod.Get, $"/api/v1/memory/appender/{note}", Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await m.Send(HttpMethod.Get, $"/api/v1/memory/appender/{experience}", Admin)).StatusCode);
    }
}
