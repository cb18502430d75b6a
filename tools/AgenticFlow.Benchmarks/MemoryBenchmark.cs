using System.Diagnostics;
using System.Net.Http.Json;
using System.Numerics.Tensors;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.Memory;
using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Search;
using AgenticFlow.Memory.Storage;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// Semantic recall at 10k (and, with BENCH_MEMORY_SIZES=10000,100000, 100k) memories of generated text: the HNSW
/// index beside an exact brute-force search over the same vectors in the same run (latency, queries/s, recall@10),
/// then the memory service itself (the query embedded on the query path, ranked, answered over HTTP) beside the same
/// work done in-process with exact search, and write -> searchable latency. Corpus embeddings are cached in
/// .data/bench/ (embedding 100k texts takes minutes); every query embeds its text.
/// </summary>
public static class MemoryBenchmark
{
    private const int Queries = 200, TopK = 10, Agents = 100;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("memory");
        var duration = TimeSpan.FromSeconds(seconds);
        var sizes = (Environment.GetEnvironmentVariable("BENCH_MEMORY_SIZES") ?? "10000").Split(',').Select(int.Parse).ToList();
        var repo = BenchComponents.RepositoryRoot();
        using var embedder = new MiniLmEmbeddingGenerator();
        var queryTexts = Corpus.Generate(Queries, seed: 977);
        var queryVectors = await EmbedAsync(embedder, queryTexts);
        foreach (var size in sizes)
        {
            Console.WriteLine($"== {size:N0} memories ==");
            var texts = Corpus.Generate(size, seed: 1);
            var vectors = await CachedEmbeddingsAsync(embedder, texts, Path.Combine(repo, ".data", "bench", $"memory-corpus-{size}.f32"));
            var ids = Enumerable.Range(0, size).Select(i => $"mem_bench{size}_{i:D7}").ToArray();

            // The index exactly as the service builds it, and the exact search it approximates.
            var build = Stopwatch.StartNew();
            using var index = new VectorIndex(MiniLmEmbeddingGenerator.Dimensions);
            for (var i = 0; i < size; i++)
            {
                index.Add(VectorKeys.Of(ids[i]), vectors[i]);
            }
            Console.WriteLine($"HNSW build: {size / build.Elapsed.TotalSeconds:F0} vectors/s ({build.Elapsed.TotalSeconds:F1} s, one thread)");
            var keyToIndex = ids.Select((id, i) => (VectorKeys.Of(id), i)).ToDictionary(x => x.Item1, x => x.i);
            var recall = 0.0;
            var hnsw = new Samples();
            var exact = new Samples();
            double hnswTotal = 0, exactTotal = 0;
            for (var q = 0; q < Queries; q++)
            {
                var start = Stopwatch.GetTimestamp();
                var approximate = index.Search(queryVectors[q], TopK).Select(r => keyToIndex[r.Key]).ToHashSet();
                hnsw.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                hnswTotal += Stopwatch.GetElapsedTime(start).TotalSeconds;
                start = Stopwatch.GetTimestamp();
                var truth = Exact(vectors, queryVectors[q], TopK);
                exact.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                exactTotal += Stopwatch.GetElapsedTime(start).TotalSeconds;
                recall += truth.Count(approximate.Contains) / (double)TopK;
            }
            Console.WriteLine($"recall@10 of HNSW against exact search: {recall / Queries:F3} (target >= 0.95)");
            Header();
            Row("search only (query vector given), 1 thread", "HNSW (USearch)", hnsw, Queries / hnswTotal);
            Row("search only (query vector given), 1 thread", "exact baseline", exact, Queries / exactTotal);
            Console.WriteLine($"HNSW / exact: p50 {hnsw.Percentile(50) / exact.Percentile(50):P1} of the time");

            await ThroughTheServiceAsync(repo, redisAddress, duration, size, texts, vectors, ids, index, queryTexts, embedder);
            Console.WriteLine();
        }
    }

    private static async Task ThroughTheServiceAsync(string repo, string redisAddress, TimeSpan duration, int size, string[] texts, float[][] vectors,
        string[] ids, VectorIndex index, string[] queryTexts, MiniLmEmbeddingGenerator embedder)
    {
        var folder = BenchComponents.Write(redisAddress, pubsub: true, null);
        var indexPath = Path.Combine(folder, "memory.usearch");
        // The service reuses the index saved here (its keys match the seeded records), so the run measures queries, not a rebuild.
        index.SaveIfChanged(indexPath);
        var resources = ResourceLoader.Load([folder]);
        await using var shared = new SharedResources();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error));
        var names = new NameRegistry(Path.Combine(folder, "names"));
        var seed = Stopwatch.StartNew();
        // Seeded through a sidecar of the same app id with no app behind it (a sidecar with an app waits for it), then
        // the service starts behind a sidecar of its own and loads what was seeded.
        var seedOptions = new SidecarOptions { AppId = "memory", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
        await using (var seeder = await SidecarHost.StartAsync(seedOptions, resources, shared, names, loggers))
        {
            await seeder.Sidecar.WhenReady;
            using var seedClient = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{seedOptions.GrpcPort}").UseHttpEndpoint($"http://127.0.0.1:{seedOptions.HttpPort}").Build();
            var now = DateTimeOffset.UtcNow;
            var records = Enumerable.Range(0, size).Select(i => new MemoryRecord
            {
                Id = ids[i], AgentId = $"bench-agent-{i % Agents}", Kind = MemoryKind.Fact, Content = texts[i], Importance = 0.5,
                CreatedAt = now.AddSeconds(-size + i), Embedding = VectorKeys.Encode(vectors[i]), EmbeddingModel = MiniLmEmbeddingGenerator.ModelId,
            }).ToList();
            await new MemoryStore(seedClient, Options.Create(new MemoryOptions())).SeedAsync(records, CancellationToken.None);
        }
        Console.WriteLine($"seeded {size:N0} records into Redis through a sidecar in {seed.Elapsed.TotalSeconds:F1} s");
        var appPort = LoopbackPorts.PickFree();
        var options = new SidecarOptions { AppId = "memory", AppPort = appPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };

        var dll = Path.Combine(repo, "services", "Memory", "bin", "Release", "net10.0", "AgenticFlow.Memory.dll");
        var info = new ProcessStartInfo("dotnet", dll) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{appPort}";
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Memory__IndexPath"] = indexPath;
        info.Environment["Memory__Embeddings__WarmUp"] = "true";
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await using var sidecar = await SidecarHost.StartAsync(options, resources, shared, names, loggers);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}"), Timeout = TimeSpan.FromMinutes(5) };
            var load = Stopwatch.StartNew();
            JsonElement stats = default;
            while (load.Elapsed < TimeSpan.FromMinutes(15))
            {
                try
                {
                    stats = await http.GetFromJsonAsync<JsonElement>("/api/v1/memory/index/stats");
                    if (stats.GetProperty("ready").GetBoolean())
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(200);
            }
            Console.WriteLine($"service ready in {load.Elapsed.TotalSeconds:F1} s: {stats.GetProperty("memories").GetInt32():N0} memories, index from {stats.GetProperty("source").GetString()}");

            var next = 0;
            Task ServiceQuery(object body) => http.PostAsJsonAsync("/api/v1/memory/query", body).ContinueWith(t => t.Result.EnsureSuccessStatusCode());
            string Text() => queryTexts[Interlocked.Increment(ref next) % queryTexts.Length];
            await ServiceQuery(new { text = Text(), scope = "all", topK = TopK, mode = "semantic" });
            Header();
            foreach (var clients in new[] { 1, 4 })
            {
                var service = await Measure.Saturate(clients, duration, () => ServiceQuery(new { text = Text(), scope = "all", topK = TopK, mode = "semantic" }));
                Row($"semantic query, all memories, {clients} client(s)", "service (HNSW)", service.Samples, service.Throughput);
                var baseline = await Measure.Saturate(clients, duration, async () =>
                {
                    var v = (await embedder.GenerateAsync([Text()]))[0].Vector.ToArray();
                    Exact(vectors, v, TopK);
                });
                Row($"semantic query, all memories, {clients} client(s)", "in-process exact", baseline.Samples, baseline.Throughput);
                Console.WriteLine($"  service / in-process exact: p95 {service.Samples.Percentile(95) / baseline.Samples.Percentile(95):F2}x, q/s {service.Throughput / baseline.Throughput:F2}x (target: service p95 < 20 ms)");
            }
            var agentScoped = await Measure.Saturate(1, duration, () => ServiceQuery(new { text = Text(), agentId = "bench-agent-7", topK = TopK, mode = "semantic" }));
            Row($"semantic, one agent ({size / Agents} memories, exact)", "service", agentScoped.Samples, agentScoped.Throughput);
            var hybrid = await Measure.Saturate(1, duration, () => ServiceQuery(new { text = Text(), scope = "all", topK = TopK, mode = "hybrid" }));
            Row("hybrid (HNSW + BM25, fused), all", "service", hybrid.Samples, hybrid.Throughput);

            // Write -> searchable: store a new memory, then query until it comes back first.
            var writes = new Samples();
            var searchable = new Samples();
            for (var i = 0; i < 30; i++)
            {
                var marker = $"Benchmark probe {i}: the {Corpus.Pick(i)} was re-certified by the night shift in hangar {i}.";
                var start = Stopwatch.GetTimestamp();
                (await http.PostAsJsonAsync("/api/v1/memory/bench-writer", new { kind = "note", content = marker })).EnsureSuccessStatusCode();
                writes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                while (true)
                {
                    var answer = await http.PostAsJsonAsync("/api/v1/memory/query", new { text = marker, agentId = "bench-writer", topK = 1, mode = "semantic" });
                    var top = (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results");
                    if (top.GetArrayLength() > 0 && top[0].GetProperty("memory").GetProperty("content").GetString() == marker)
                    {
                        break;
                    }
                }
                searchable.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            Row("store (embed + write + index), ack", "service", writes, 1000 / writes.Percentile(50));
            Row("write -> first query that finds it", "service", searchable, 1000 / searchable.Percentile(50));
            Console.WriteLine($"  write -> searchable p95 {searchable.Percentile(95):F1} ms (target < 1000 ms); the ack alone p95 {writes.Percentile(95):F1} ms");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static int[] Exact(float[][] vectors, float[] query, int k)
    {
        // All vectors are normalised: the dot product is the cosine similarity.
        var scores = new float[vectors.Length];
        for (var i = 0; i < vectors.Length; i++)
        {
            scores[i] = TensorPrimitives.Dot(vectors[i], query);
        }
        var top = new PriorityQueue<int, float>(k + 1);
        for (var i = 0; i < scores.Length; i++)
        {
            top.Enqueue(i, scores[i]);
            if (top.Count > k)
            {
                top.Dequeue();
            }
        }
        return top.UnorderedItems.Select(x => x.Element).ToArray();
    }

    private static async Task<float[][]> EmbedAsync(MiniLmEmbeddingGenerator embedder, IReadOnlyList<string> texts)
    {
        var result = new List<float[]>(texts.Count);
        foreach (var batch in texts.Chunk(64))
        {
            result.AddRange((await embedder.GenerateAsync(batch)).Select(e => e.Vector.ToArray()));
        }
        return [.. result];
    }

    private static async Task<float[][]> CachedEmbeddingsAsync(MiniLmEmbeddingGenerator embedder, string[] texts, string path)
    {
        const int d = MiniLmEmbeddingGenerator.Dimensions;
        if (File.Exists(path) && new FileInfo(path).Length == (long)texts.Length * d * sizeof(float))
        {
            var bytes = await File.ReadAllBytesAsync(path);
            Console.WriteLine($"corpus embeddings from {path}");
            var cached = new float[texts.Length][];
            for (var i = 0; i < texts.Length; i++)
            {
                cached[i] = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(i * d * sizeof(float), d * sizeof(float))).ToArray();
            }
            return cached;
        }
        var clock = Stopwatch.StartNew();
        var vectors = await EmbedAsync(embedder, texts);
        Console.WriteLine($"embedded {texts.Length:N0} texts in {clock.Elapsed.TotalSeconds:F0} s ({texts.Length / clock.Elapsed.TotalSeconds:F0}/s); cached in {path}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, vectors.SelectMany(v => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray()).ToArray());
        return vectors;
    }

    private static void Header()
    {
        Console.WriteLine($"| {"scenario",-44} | {"path",-18} | {"p50 ms",8} | {"p95 ms",8} | {"q/s",8} |");
        Console.WriteLine($"|{new string('-', 46)}|{new string('-', 20)}|{new string('-', 10)}|{new string('-', 10)}|{new string('-', 10)}|");
    }

    private static void Row(string scenario, string path, Samples samples, double throughput) =>
        Console.WriteLine($"| {scenario,-44} | {path,-18} | {samples.Percentile(50),8:F2} | {samples.Percentile(95),8:F2} | {throughput,8:F0} |");
}

/// <summary>Generated memories: an agent's observations built from a few hundred words, varied enough that their
/// embeddings spread like real text (uniform random vectors would defeat any graph index and say nothing).</summary>
public static class Corpus
{
    private static readonly string[] Subjects = ["deploy pipeline", "payments API", "search cluster", "mobile app", "billing job", "warehouse robot", "support inbox", "data warehouse", "login service", "image resizer", "email campaign", "GPU fleet", "backup system", "recommendation model", "invoice export", "chat assistant", "DNS zone", "VPN gateway", "CI runner", "analytics dashboard", "customer portal", "inventory scanner", "payroll run", "translation vendor", "office network"];
    private static readonly string[] Events = ["failed after", "slowed down because of", "recovered after", "was rolled back due to", "doubled its throughput after", "ran out of memory during", "was flagged by security for", "missed its deadline because of", "started timing out after", "was praised by customers for"];
    private static readonly string[] Causes = ["a schema migration", "an expired certificate", "a noisy neighbour", "a misconfigured cache", "a holiday traffic spike", "a vendor outage", "a dependency upgrade", "a typo in the config", "a disk filling up", "a new index", "a retry storm", "a firewall change", "a leaked connection pool", "a clock skew", "a bad feature flag", "a region failover", "a malformed CSV import", "a license renewal", "an API rate limit", "a memory leak"];
    private static readonly string[] Contexts = ["on Monday morning", "during the quarterly close", "in the Frankfurt region", "for enterprise customers", "after the team offsite", "while the on-call engineer was asleep", "in the staging environment", "at the end of the sprint", "during the product launch", "for the Brazilian market", "in the night batch", "after the office move"];
    private static readonly string[] Outcomes = ["The fix was documented in the runbook.", "Nobody noticed for two days.", "We added an alert for it.", "The vendor refunded the month.", "A postmortem is scheduled.", "It cost us about four hours.", "The customer asked for a credit.", "We reverted to the previous version.", "Capacity was doubled as a precaution.", "The team wants a load test next time."];

    public static string Pick(int i) => Subjects[i % Subjects.Length];

    public static string[] Generate(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
            $"The {Subjects[random.Next(Subjects.Length)]} {Events[random.Next(Events.Length)]} {Causes[random.Next(Causes.Length)]} {Contexts[random.Next(Contexts.Length)]}. " +
            $"{Outcomes[random.Next(Outcomes.Length)]} Ticket {random.Next(1000, 99999)}.").ToArray();
    }
}
