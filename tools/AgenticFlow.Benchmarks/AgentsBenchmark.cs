using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// Agent get and state update (the agents service's actor per agent, state in Redis) through the gateway and
/// straight to the service, beside an in-process baseline of the same logic in the same run: a turn lock per agent
/// and the agent's record read (and for an update, changed and written back) in Redis directly. Figures only.
/// </summary>
public static class AgentsBenchmark
{
    private const int Agents = 100, Rate = 500, Workers = 16, MaxConnections = 256;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("agents");
        var duration = TimeSpan.FromSeconds(seconds);
        var repo = BenchComponents.RepositoryRoot();
        var folder = BenchComponents.Write(redisAddress, pubsub: true, File.ReadAllText(Path.Combine(repo, "components/local/secrets.json")));
        var resources = ResourceLoader.Load([folder]);
        var names = new NameRegistry(Path.Combine(folder, "names"));
        await using var shared = new SharedResources();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error));
        var processes = new List<Process>();
        var sidecars = new List<SidecarHost>();
        try
        {
            int aPort = LoopbackPorts.PickFree(), gPort = LoopbackPorts.PickFree();
            var aOptions = new SidecarOptions { AppId = "agents", AppPort = aPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            var gOptions = new SidecarOptions { AppId = "gateway", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            processes.Add(MessagingBenchmark.Start(repo, "Agents", "AgenticFlow.Agents", aPort, aOptions, []));
            processes.Add(MessagingBenchmark.Start(repo, "Gateway", "AgenticFlow.Gateway", gPort, gOptions, new() { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" }));
            sidecars.Add(await SidecarHost.StartAsync(aOptions, resources, shared, names, loggers));
            sidecars.Add(await SidecarHost.StartAsync(gOptions, resources, shared, names, loggers));
            await sidecars[0].Sidecar.WhenReady;
            using var gateway = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{gPort}") };
            gateway.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
            using var service = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{aPort}") };

            var run = Guid.NewGuid().ToString("N")[..8];
            var ids = Enumerable.Range(0, Agents).Select(i => $"bench-{run}-{i}").ToArray();
            await BenchComponents.WaitUntilServing("the agents service", () => BenchComponents.Answers(gateway, "/api/v1/agents?limit=1"));
            foreach (var id in ids)
            {
                (await gateway.PostAsJsonAsync("/api/v1/agents", new
                {
                    id, name = id, kind = "llm", maxConcurrentTasks = 4,
                    capabilities = new[] { new { name = "bench", proficiency = 0.5 } },
                    llm = new { systemPrompt = "Benchmark agent." },
                })).EnsureSuccessStatusCode();
            }
            var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
            var baseline = new InProcessAgents(redis.GetDatabase(), ids);
            await baseline.SeedAsync();

            var n = 0;
            string Next() => ids[(int)((uint)Interlocked.Increment(ref n) % Agents)];
            Func<Task> Get(HttpClient client) => async () =>
            {
                using var response = await client.GetAsync($"/api/v1/agents/{Next()}");
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            };
            Func<Task> Update(HttpClient client) => async () =>
            {
                // A different load each time, so every update changes the agent and its read-model summary.
                using var response = await client.PutAsJsonAsync($"/api/v1/agents/{Next()}/state", new { status = "busy", load = (n % 10) / 10.0 });
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            };
            // Warm every path: actors activated, connections open, JIT done.
            foreach (var op in new[] { Get(gateway), Get(service), Update(gateway), Update(service), baseline.Get(Next), baseline.Update(Next) })
            {
                for (var i = 0; i < 2 * Agents; i++)
                {
                    await op();
                }
            }

            Console.WriteLine($"AgenticFlow agents benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, {Agents} agents (actor state in Redis at {redisAddress})");
            Console.WriteLine("in-process baseline: the same logic without the runtime (turn lock per agent, record read/written in Redis directly)");
            Console.WriteLine();
            Measure.Header();
            var results = new Dictionary<string, (Samples Samples, double Throughput)>();
            void Row(string scenario, string path, (Samples, double) result)
            {
                results[$"{scenario}|{path}"] = result;
                Measure.Print(scenario, path, result);
            }
            Row($"agent get @ {Rate}/s", "via gateway", await Measure.FixedRate(Rate, duration, Get(gateway)));
            Row($"agent get @ {Rate}/s", "service direct", await Measure.FixedRate(Rate, duration, Get(service)));
            Row($"agent get @ {Rate}/s", "in-process", await Measure.FixedRate(Rate, duration, baseline.Get(Next)));
            Row($"state update @ {Rate}/s", "via gateway", await Measure.FixedRate(Rate, duration, Update(gateway)));
            Row($"state update @ {Rate}/s", "service direct", await Measure.FixedRate(Rate, duration, Update(service)));
            Row($"state update @ {Rate}/s", "in-process", await Measure.FixedRate(Rate, duration, baseline.Update(Next)));
            Row($"agent get, saturated ({Workers})", "via gateway", await Measure.Saturate(Workers, duration, Get(gateway)));
            Row($"agent get, saturated ({Workers})", "in-process", await Measure.Saturate(Workers, duration, baseline.Get(Next)));
            Row($"state update, saturated ({Workers})", "via gateway", await Measure.Saturate(Workers, duration, Update(gateway)));
            Row($"state update, saturated ({Workers})", "in-process", await Measure.Saturate(Workers, duration, baseline.Update(Next)));
            Console.WriteLine();
            foreach (var scenario in new[] { $"agent get @ {Rate}/s", $"state update @ {Rate}/s" })
            {
                var (via, _) = results[$"{scenario}|via gateway"];
                var (inProcess, _) = results[$"{scenario}|in-process"];
                Console.WriteLine($"{scenario}: via gateway p99 {via.Percentile(99):F2} ms (target < 10 ms), {via.Percentile(99) / inProcess.Percentile(99):F1}x the in-process p99; p50 {via.Percentile(50) / inProcess.Percentile(50):F1}x");
            }
            foreach (var scenario in new[] { $"agent get, saturated ({Workers})", $"state update, saturated ({Workers})" })
            {
                Console.WriteLine($"{scenario}: via gateway {results[$"{scenario}|via gateway"].Throughput:F0} req/s, {results[$"{scenario}|via gateway"].Throughput / results[$"{scenario}|in-process"].Throughput:P0} of in-process");
            }
        }
        finally
        {
            foreach (var p in processes)
            {
                p.Kill(entireProcessTree: true);
            }
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The actor's logic without the runtime: one turn at a time per agent, the record in Redis as JSON.</summary>
    private sealed class InProcessAgents(IDatabase db, string[] ids)
    {
        private readonly ConcurrentDictionary<string, SemaphoreSlim> _turns = new(StringComparer.Ordinal);

        private static string Key(string id) => "baseline-agent||" + id;

        public async Task SeedAsync()
        {
            foreach (var id in ids)
            {
                await db.StringSetAsync(Key(id), JsonSerializer.SerializeToUtf8Bytes(new Record(id, "idle", 0, 1)));
            }
        }

        private async Task<T> Turn<T>(string id, Func<Task<T>> work)
        {
            var turn = _turns.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
            await turn.WaitAsync();
            try
            {
                return await work();
            }
            finally
            {
                turn.Release();
            }
        }

        public Func<Task> Get(Func<string> next) => () =>
        {
            var id = next();
            return Turn(id, async () => JsonSerializer.Deserialize<Record>((byte[])(await db.StringGetAsync(Key(id)))!)!);
        };

        public Func<Task> Update(Func<string> next) => () =>
        {
            var id = next();
            return Turn(id, async () =>
            {
                var record = JsonSerializer.Deserialize<Record>((byte[])(await db.StringGetAsync(Key(id)))!)!;
                var changed = record with { Status = "busy", Load = 0.5, Version = record.Version + 1 };
                await db.StringSetAsync(Key(id), JsonSerializer.SerializeToUtf8Bytes(changed));
                return changed;
            });
        };

        private sealed record Record(string Id, string Status, double Load, long Version);
    }
}
