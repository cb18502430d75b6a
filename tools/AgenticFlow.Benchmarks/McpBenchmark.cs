using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// An MCP tool call through the gateway's <c>/mcp</c> (the ModelContextProtocol client, streamable HTTP) beside the same
/// REST call through the gateway in the same run: <c>find_agents</c> against <c>GET /api/v1/agents?capability=…</c>, at a
/// fixed rate and saturated. The tool re-enters the gateway's REST route, so the ratio is what MCP adds. Figures only.
/// </summary>
public static class McpBenchmark
{
    private const int Agents = 50, Rate = 100, Workers = 8;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("mcp");
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
            using var gateway = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri($"http://127.0.0.1:{gPort}") };
            gateway.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
            await BenchComponents.WaitUntilServing("the agents service", () => BenchComponents.Answers(gateway, "/api/v1/agents?limit=1"));
            var capability = "bench-mcp-" + Guid.NewGuid().ToString("N")[..6];
            for (var i = 0; i < Agents; i++)
            {
                (await gateway.PostAsJsonAsync("/api/v1/agents", new
                {
                    id = $"{capability}-{i}", name = "bench", kind = "external",
                    capabilities = new[] { new { name = capability, proficiency = 0.5 } },
                })).EnsureSuccessStatusCode();
            }
            await using var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri($"http://127.0.0.1:{gPort}/mcp"),
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = "dev-admin-key" },
            }));
            var arguments = new Dictionary<string, object?> { ["capability"] = capability, ["limit"] = 10 };
            Func<Task> Rest = async () =>
            {
                using var response = await gateway.GetAsync($"/api/v1/agents?capability={capability}&limit=10");
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            };
            Func<Task> Tool = async () =>
            {
                var result = await mcp.CallToolAsync("find_agents", arguments);
                if (result.IsError == true)
                {
                    throw new InvalidOperationException("find_agents failed");
                }
            };
            await Measure.WarmUp(Workers, Rest);
            await Measure.WarmUp(Workers, Tool);

            Console.WriteLine($"AgenticFlow MCP benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, find_agents over {Agents} agents");
            Console.WriteLine("baseline: the same REST call (GET /api/v1/agents?capability=…&limit=10) through the gateway in the same run");
            Console.WriteLine();
            Measure.Header();
            var restFixed = await Measure.FixedRate(Rate, duration, Rest);
            Measure.Print($"find agents @ {Rate}/s", "REST via gateway", restFixed);
            var toolFixed = await Measure.FixedRate(Rate, duration, Tool);
            Measure.Print($"find agents @ {Rate}/s", "MCP tool /mcp", toolFixed);
            var restSat = await Measure.Saturate(Workers, duration, Rest);
            Measure.Print($"find agents, saturated ({Workers})", "REST via gateway", restSat);
            var toolSat = await Measure.Saturate(Workers, duration, Tool);
            Measure.Print($"find agents, saturated ({Workers})", "MCP tool /mcp", toolSat);
            Console.WriteLine();
            Console.WriteLine(Measure.Ratio($"MCP tool vs REST @ {Rate}/s", toolFixed, restFixed, "an MCP call costs one loopback re-entry more than REST"));
            Console.WriteLine($"  ratio: p50 {toolFixed.Samples.Percentile(50) / restFixed.Samples.Percentile(50):F2}x, p99 {toolFixed.Samples.Percentile(99) / restFixed.Samples.Percentile(99):F2}x");
            Console.WriteLine(Measure.Ratio($"MCP tool vs REST, saturated ({Workers})", toolSat, restSat, "figures only"));
            Console.WriteLine($"  ratio: p50 {toolSat.Samples.Percentile(50) / restSat.Samples.Percentile(50):F2}x, throughput {toolSat.Throughput / restSat.Throughput:F2}x");
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
}
