using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.Monitoring;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Intake;
using AgenticFlow.Monitoring.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// The monitoring service: span intake (Zipkin JSON batches of 100) and metric point intake (JSON batches of 500)
/// straight to the service, beside the same parse-and-store done in process; and what exporting telemetry costs a
/// gateway call: the same cheap read (gateway → sidecars → messaging → state) through a gateway/messaging pair that
/// exports nothing and through a pair that exports metrics, logs and traces to monitoring through its sidecars (whose
/// sidecars also record their own spans); what a sidecar's own spans cost one invocation hop: app → sidecar →
/// sidecar → app with <c>spec.tracing</c> sending to monitoring beside the same hop with no tracing; and a metrics
/// query over 80,000 points grouped by two attributes (groupBy) beside the same query without grouping.
/// </summary>
public static class MonitoringBenchmark
{
    private const int Workers = 16, SpansPerBatch = 100, PointsPerBatch = 500;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("monitoring");
        var duration = TimeSpan.FromSeconds(seconds);
        var repo = BenchComponents.RepositoryRoot();
        var folder = BenchComponents.Write(redisAddress, pubsub: true, File.ReadAllText(Path.Combine(repo, "components/local/secrets.json")));
        var resources = ResourceLoader.Load([folder]);
        await using var shared = new SharedResources();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error));
        var processes = new List<Process>();
        var sidecars = new List<SidecarHost>();
        try
        {
            // Two platforms with their own name registries: one exports nothing, the other exports to monitoring.
            var plain = new NameRegistry(Path.Combine(folder, "names-plain"));
            var exporting = new NameRegistry(Path.Combine(folder, "names-exporting"));
            var export = new Dictionary<string, string> { ["Telemetry__Monitoring"] = "metrics,logs,traces", ["Telemetry__MetricExportSeconds"] = "5" };
            var monPort = await StartAsync(repo, folder, "Monitoring", "monitoring", exporting, resources, shared, loggers, processes, sidecars, new() { ["Telemetry__Monitoring"] = "metrics,logs" });
            // The sidecars of the exporting pair trace as dapr-config says, sending their spans to this monitoring.
            var tracingConfig = TracingConfiguration(folder, monPort);
            var plainGateway = await StartPairAsync(repo, folder, plain, resources, shared, loggers, processes, sidecars, []);
            var exportingGateway = await StartPairAsync(repo, folder, exporting, resources, shared, loggers, processes, sidecars, export, tracingConfig);
            var hopApp = await StartPingAppAsync();
            await using var hopWeb = hopApp.App;
            var (hopOff, hopOffTarget) = await StartHopAsync(folder, new NameRegistry(Path.Combine(folder, "names-hop-off")), resources, shared, loggers, sidecars, hopApp.Port, null);
            var (hopOn, hopOnTarget) = await StartHopAsync(folder, new NameRegistry(Path.Combine(folder, "names-hop-on")), resources, shared, loggers, sidecars, hopApp.Port, tracingConfig);

            using var monitoring = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{monPort}") };
            using var untraced = Client(plainGateway);
            using var traced = Client(exportingGateway);
            foreach (var client in new[] { untraced, traced })
            {
                await BenchComponents.WaitUntilServing("a gateway and messaging", () => BenchComponents.Answers(client, "/api/v1/messages/queue/warmup/stats"));
            }
            await BenchComponents.WaitUntilServing("the monitoring service", () => BenchComponents.Answers(monitoring, "/healthz"));

            Console.WriteLine($"AgenticFlow monitoring benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, {Workers} closed loops, {BenchComponents.ProfileName}");
            Console.WriteLine();
            Measure.Header();

            async Task Read(HttpClient client)
            {
                using var response = await client.GetAsync("/api/v1/messages/queue/warmup/stats");
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            }
            await Measure.WarmUp(Workers, () => Read(untraced));
            await Measure.WarmUp(Workers, () => Read(traced));
            var off = await Measure.Saturate(Workers, duration, () => Read(untraced));
            var on = await Measure.Saturate(Workers, duration, () => Read(traced));
            var offAgain = await Measure.Saturate(Workers, duration, () => Read(untraced));
            Measure.Print("gateway cheap read", "no export", off);
            Measure.Print("gateway cheap read", "export (traces)", on);
            Measure.Print("gateway cheap read (again)", "no export", offAgain);

            // One invocation through two sidecars to an app, traced (4 sidecar spans a call) and not.
            using var hopOffClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri($"http://127.0.0.1:{hopOff.HttpPort}") };
            using var hopOnClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri($"http://127.0.0.1:{hopOn.HttpPort}") };
            async Task Hop(HttpClient client, string target)
            {
                using var response = await client.GetAsync($"/v1.0/invoke/{target}/method/ping");
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            }
            await Measure.WarmUp(Workers, () => Hop(hopOffClient, hopOffTarget));
            await Measure.WarmUp(Workers, () => Hop(hopOnClient, hopOnTarget));
            var hopUntraced = await Measure.Saturate(Workers, duration, () => Hop(hopOffClient, hopOffTarget));
            var hopTraced = await Measure.Saturate(Workers, duration, () => Hop(hopOnClient, hopOnTarget));
            var hopUntracedAgain = await Measure.Saturate(Workers, duration, () => Hop(hopOffClient, hopOffTarget));
            Measure.Print("sidecar invocation hop", "tracing off", hopUntraced);
            Measure.Print("sidecar invocation hop", "tracing on", hopTraced);
            Measure.Print("sidecar invocation hop (again)", "tracing off", hopUntracedAgain);
            var callerExporter = hopOn.Sidecar.Tracer.Exporter!;

            var spanBody = SpanBatch();
            var spanJson = JsonDocument.Parse(spanBody).RootElement;
            var inProcessTraces = new TraceStore(Options.Create(new MonitoringOptions()), TimeProvider.System);
            async Task PostSpans()
            {
                using var content = new StringContent(spanBody, Encoding.UTF8, "application/json");
                using var response = await monitoring.PostAsync("/api/v2/spans", content);
                response.EnsureSuccessStatusCode();
            }
            await Measure.WarmUp(Workers, PostSpans);
            var spansBaseline = await Measure.Saturate(Workers, duration, () => { inProcessTraces.Add(ZipkinReader.Read(spanJson)); return Task.CompletedTask; });
            var spans = await Measure.Saturate(Workers, duration, PostSpans);
            Measure.Print($"span batch ({SpansPerBatch})", "in process", spansBaseline);
            Measure.Print($"span batch ({SpansPerBatch})", "via HTTP intake", spans);

            var points = Enumerable.Range(0, PointsPerBatch).Select(i => new { name = "bench.depth", service = "bench", tags = new Dictionary<string, string> { ["queue"] = "q" + (i % 50) }, value = (double)i }).ToList();
            var inProcessStore = new EmbeddedTimeSeriesStore(Options.Create(new MonitoringOptions()), TimeProvider.System);
            async Task PostPoints()
            {
                using var response = await monitoring.PostAsJsonAsync("/api/v1/metrics", new { points });
                response.EnsureSuccessStatusCode();
            }
            await Measure.WarmUp(Workers, PostPoints);
            var pointsBaseline = await Measure.Saturate(Workers, duration, () => inProcessStore.WriteAsync(
                points.Select(p => new MetricPoint(p.name, p.service, p.tags, DateTimeOffset.UtcNow, MetricKind.Gauge, p.value)).ToList(), default));
            var pointsIn = await Measure.Saturate(Workers, duration, PostPoints);
            Measure.Print($"point batch ({PointsPerBatch})", "in process", pointsBaseline);
            Measure.Print($"point batch ({PointsPerBatch})", "via HTTP intake", pointsIn);

            var (queryPoints, grouped, ungrouped) = await QueryGroupingAsync(monitoring, duration);
            Measure.Print($"query over {queryPoints} points", "no groupBy", ungrouped);
            Measure.Print($"query over {queryPoints} points", "groupBy 2 keys", grouped);

            Console.WriteLine();
            var baseline = (off.Samples, (off.Throughput + offAgain.Throughput) / 2);
            Console.WriteLine(Measure.Ratio("export on a gateway call", on, off, "p50 within 10% of no export"));
            Console.WriteLine($"- exporting / not exporting throughput (mean of both no-export runs): {on.Throughput / baseline.Item2:P0}");
            Console.WriteLine(Measure.Ratio("sidecar spans on an invocation hop", hopTraced, hopUntraced, "p50 within 10% of tracing off"));
            Console.WriteLine($"- traced / untraced hop throughput (mean of both untraced runs): {hopTraced.Throughput / ((hopUntraced.Throughput + hopUntracedAgain.Throughput) / 2):P0}; " +
                $"the calling sidecar exported {callerExporter.Exported} spans and dropped {callerExporter.Dropped}");
            Console.WriteLine($"- spans/s: {spans.Throughput * SpansPerBatch:F0} via HTTP vs {spansBaseline.Throughput * SpansPerBatch:F0} in process = {spans.Throughput / spansBaseline.Throughput:P1}");
            Console.WriteLine($"- points/s: {pointsIn.Throughput * PointsPerBatch:F0} via HTTP vs {pointsBaseline.Throughput * PointsPerBatch:F0} in process = {pointsIn.Throughput / pointsBaseline.Throughput:P1}");
            Console.WriteLine(Measure.Ratio($"metrics query over {queryPoints} points, groupBy=agent,model ({QueryAgents * QueryModels} groups) vs one series", grouped, ungrouped, "p50 within 2x of the query without grouping"));
            Console.WriteLine($"- grouped / ungrouped p50 latency: {grouped.Samples.Percentile(50) / ungrouped.Samples.Percentile(50):F2}x");
        }
        finally
        {
            foreach (var process in processes)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
        }
    }

    private const int QueryAgents = 10, QueryModels = 2, QuerySamples = 2000, QueryWorkers = 2;

    /// <summary>Writes cumulative counter samples shaped like the GenAI token metrics (10 agents × 2 models × 2 token
    /// types = 40 series, one sample a second over the last <see cref="QuerySamples"/> seconds) to the monitoring service,
    /// then reads the hour's sum back over HTTP: once as one series (the service), once grouped by agent and model.
    /// Both queries read and aggregate the same points; the difference is the grouping.</summary>
    private static async Task<(int Points, (Samples Samples, double Throughput) Grouped, (Samples Samples, double Throughput) Plain)> QueryGroupingAsync(HttpClient monitoring, TimeSpan duration)
    {
        var now = DateTimeOffset.UtcNow;
        var points = new List<object>();
        for (var agent = 0; agent < QueryAgents; agent++)
        {
            for (var model = 0; model < QueryModels; model++)
            {
                foreach (var type in new[] { "input", "output" })
                {
                    var tags = new Dictionary<string, string> { ["agent"] = $"agent-{agent}", ["model"] = $"model-{model}", ["type"] = type };
                    for (var i = 0; i < QuerySamples; i++)
                    {
                        points.Add(new { name = "bench.tokens", service = "bench", kind = "counter", tags, value = i * 100.0, time = now.AddSeconds(i - QuerySamples) });
                    }
                }
            }
        }
        foreach (var chunk in points.Chunk(5000))
        {
            using var written = await monitoring.PostAsJsonAsync("/api/v1/metrics", new { points = chunk });
            written.EnsureSuccessStatusCode();
        }
        const string plain = "/api/v1/metrics?name=bench.tokens&agg=sum&from=-1h&step=1h";
        const string grouped = plain + "&groupBy=agent,model";
        async Task Read(string path)
        {
            using var response = await monitoring.GetAsync(path);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        }
        await Measure.WarmUp(QueryWorkers, () => Read(plain));
        await Measure.WarmUp(QueryWorkers, () => Read(grouped));
        var ungroupedResult = await Measure.Saturate(QueryWorkers, duration, () => Read(plain));
        var groupedResult = await Measure.Saturate(QueryWorkers, duration, () => Read(grouped));
        return (points.Count, groupedResult, ungroupedResult);
    }

    private static HttpClient Client(int port)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        client.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
        return client;
    }

    private static async Task<int> StartPairAsync(string repo, string folder, NameRegistry names, ResourceSet resources, SharedResources shared, ILoggerFactory loggers,
        List<Process> processes, List<SidecarHost> sidecars, Dictionary<string, string> env, string? configPath = null)
    {
        await StartAsync(repo, folder, "Messaging", "messaging", names, resources, shared, loggers, processes, sidecars, env, configPath);
        return await StartAsync(repo, folder, "Gateway", "gateway", names, resources, shared, loggers, processes, sidecars,
            new(env) { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" }, configPath);
    }

    /// <summary>A Configuration whose sidecars record every trace and send their spans to monitoring's Zipkin intake.</summary>
    private static string TracingConfiguration(string folder, int monitoringPort)
    {
        var path = Path.Combine(folder, "..", $"tracing-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $$"""
            apiVersion: dapr.io/v1alpha1
            kind: Configuration
            metadata:
              name: bench-tracing
            spec:
              tracing:
                samplingRate: "1"
                zipkin:
                  endpointAddress: "http://127.0.0.1:{{monitoringPort}}/api/v2/spans"
            """);
        return Path.GetFullPath(path);
    }

    /// <summary>An app that answers GET /ping, in this process.</summary>
    private static async Task<(int Port, Microsoft.AspNetCore.Builder.WebApplication App)> StartPingAppAsync()
    {
        var port = LoopbackPorts.PickFree();
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/ping", () => "pong");
        await app.StartAsync();
        return (port, app);
    }

    /// <summary>A calling sidecar (no app) and the sidecar of an app id whose app is <paramref name="appPort"/>.</summary>
    private static async Task<(SidecarHost Caller, string Target)> StartHopAsync(string folder, NameRegistry names, ResourceSet resources, SharedResources shared,
        ILoggerFactory loggers, List<SidecarHost> sidecars, int appPort, string? configPath)
    {
        var target = "hop-" + Guid.NewGuid().ToString("N")[..8];
        SidecarOptions Options(string appId, int? port) => new() { AppId = appId, AppPort = port, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder], ConfigPath = configPath };
        var callee = await SidecarHost.StartAsync(Options(target, appPort), resources, shared, names, loggers);
        sidecars.Add(callee);
        await callee.Sidecar.WhenReady;
        var caller = await SidecarHost.StartAsync(Options("hop-caller-" + Guid.NewGuid().ToString("N")[..8], null), resources, shared, names, loggers);
        sidecars.Add(caller);
        return (caller, target);
    }

    /// <summary>One app process and its sidecar (the gateway's without an app channel); answers the app's port.</summary>
    private static async Task<int> StartAsync(string repo, string folder, string project, string appId, NameRegistry names, ResourceSet resources, SharedResources shared,
        ILoggerFactory loggers, List<Process> processes, List<SidecarHost> sidecars, Dictionary<string, string> env, string? configPath = null)
    {
        var port = LoopbackPorts.PickFree();
        var options = new SidecarOptions { AppId = appId, AppPort = appId == "gateway" ? null : port, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder], ConfigPath = configPath };
        processes.Add(MessagingBenchmark.Start(repo, project, "AgenticFlow." + project, port, options, new(env) { ["APP_ID"] = appId }));
        var sidecar = await SidecarHost.StartAsync(options, resources, shared, names, loggers);
        sidecars.Add(sidecar);
        if (appId != "gateway")
        {
            await sidecar.Sidecar.WhenReady;
        }
        return port;
    }

    private static string SpanBatch()
    {
        var trace = Guid.NewGuid().ToString("N");
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var spans = Enumerable.Range(0, SpansPerBatch).Select(i => new
        {
            traceId = i % 10 == 0 ? trace = Guid.NewGuid().ToString("N") : trace,
            id = Guid.NewGuid().ToString("N")[..16],
            name = "GET /api/v1/agents",
            kind = "SERVER",
            timestamp = start + i,
            duration = 1500,
            localEndpoint = new { serviceName = "bench" },
            tags = new Dictionary<string, string> { ["http.response.status_code"] = "200" },
        });
        return JsonSerializer.Serialize(spans);
    }
}
