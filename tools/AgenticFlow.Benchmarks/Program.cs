using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using AgenticFlow.Benchmarks;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

// Local runtime benchmark (Redis profile): state get/save and publish->deliver through the sidecar,
// beside the same operations done directly against Redis in the same run. Figures only; no pass/fail.
// 'messaging', 'providers', 'actors', 'memory', 'agents', 'coordination' or 'workflows' as the first argument runs that benchmark instead.
if (args.FirstOrDefault() == "messaging")
{
    await MessagingBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "actors")
{
    await ActorsBenchmark.RunAsync();
    Console.WriteLine();
    await WorkflowsBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "memory")
{
    await MemoryBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "coordination")
{
    await CoordinationBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "agents")
{
    await AgentsBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "monitoring")
{
    await MonitoringBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "mcp")
{
    await McpBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "neural")
{
    await NeuralBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "workflows")
{
    await WorkflowServiceBenchmark.RunAsync();
    return;
}
if (args.FirstOrDefault() == "providers")
{
    await ProvidersBenchmark.RunAsync();
    return;
}
var redisAddress = Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_REDIS")
    ?? throw new InvalidOperationException("AGENTICFLOW_TEST_REDIS is not set: run tools/bench.sh");
var seconds = double.TryParse(Environment.GetEnvironmentVariable("BENCH_SECONDS"), out var s) ? s : 5;
var duration = TimeSpan.FromSeconds(seconds);
const int StateRate = 1000, PublishRate = 500, Workers = 32;

var folder = BenchComponents.Write(redisAddress, pubsub: true, null);

// The subscriber app: records when each event arrived.
var arrivals = new ConcurrentDictionary<string, long>();
var appPort = LoopbackPorts.PickFree();
var appBuilder = WebApplication.CreateSlimBuilder();
appBuilder.Logging.ClearProviders();
appBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, appPort));
var app = appBuilder.Build();
app.UseCloudEvents();
app.MapSubscribeHandler();
app.MapPost("/bench", (Tick tick) => { arrivals[tick.Id] = Stopwatch.GetTimestamp(); return Results.Ok(); }).WithTopic("pubsub", "bench");
// The cheapest method there is, so an invocation's figures are the hops' cost and nothing else.
app.MapGet("/ping", () => Results.Ok(new { ok = true }));
await app.StartAsync();

await using var shared = new SharedResources();
var options = new SidecarOptions { AppId = "bench", AppPort = appPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
await using var sidecar = await SidecarHost.StartAsync(options, ResourceLoader.Load([folder]), shared, new NameRegistry(Path.Combine(folder, "names")),
    LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error)));
await sidecar.Sidecar.WhenReady;
using var dapr = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{options.GrpcPort}").UseHttpEndpoint($"http://127.0.0.1:{options.HttpPort}").Build();
var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
var db = redis.GetDatabase();
var payload = new Tick("x", new string('a', 200));
var payloadBytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(payload);

Console.WriteLine($"AgenticFlow local runtime benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, Redis at {redisAddress}");
Console.WriteLine();
Measure.Header();

// Warm both paths up.
for (var i = 0; i < 200; i++)
{
    await dapr.SaveStateAsync("statestore", "warm", payload);
    await db.HashSetAsync("direct||warm", [new HashEntry("data", payloadBytes), new HashEntry("version", 1)]);
}

var n = 0;
string NextKey() => "k" + (Interlocked.Increment(ref n) % 1000);

var ratios = new List<string>();
async Task Compare(string scenario, string target, Func<Task<(Samples, double)>> runtime, Func<Task<(Samples, double)>> baseline, string runtimePath = "runtime (gRPC)", string baselinePath = "redis direct")
{
    var (r, b) = (await runtime(), await baseline());
    Measure.Print(scenario, runtimePath, r);
    Measure.Print(scenario, baselinePath, b);
    ratios.Add(Measure.Ratio(scenario, r, b, target));
}

Task Save() => dapr.SaveStateAsync("statestore", NextKey(), payload);
Task SaveDirect() => db.HashSetAsync("direct||" + NextKey(), [new HashEntry("data", payloadBytes), new HashEntry("version", 1)]);
Task Get() => dapr.GetStateAsync<Tick>("statestore", NextKey());
Task GetDirect() => db.HashGetAllAsync("direct||" + NextKey());
await Compare($"state save @ {StateRate}/s", "p99 <= 3 ms", () => Measure.FixedRate(StateRate, duration, Save), () => Measure.FixedRate(StateRate, duration, SaveDirect));
await Compare($"state get @ {StateRate}/s", "p99 <= 3 ms", () => Measure.FixedRate(StateRate, duration, Get), () => Measure.FixedRate(StateRate, duration, GetDirect));
await Compare($"state save, saturated ({Workers} callers)", "throughput >= 30% of redis", () => Measure.Saturate(Workers, duration, Save), () => Measure.Saturate(Workers, duration, SaveDirect));
await Compare($"state get, saturated ({Workers} callers)", "throughput >= 30% of redis", () => Measure.Saturate(Workers, duration, Get), () => Measure.Saturate(Workers, duration, GetDirect));

// Invocation: the app's cheapest method called directly, through its own sidecar, and from another app's sidecar
// (sidecar -> sidecar -> app, the shape of every call the gateway forwards).
const int Callers = 16;
var caller = new SidecarOptions { AppId = "bench-caller", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
await using var callerSidecar = await SidecarHost.StartAsync(caller, ResourceLoader.Load([folder]), shared, new NameRegistry(Path.Combine(folder, "names")),
    LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error)));
await callerSidecar.Sidecar.WhenReady;
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 });
Func<Task> Ping(string url) => async () =>
{
    using var response = await http.GetAsync(url);
    response.EnsureSuccessStatusCode();
    await response.Content.ReadAsByteArrayAsync();
};
var direct = Ping($"http://127.0.0.1:{appPort}/ping");
var ownSidecar = Ping($"http://127.0.0.1:{options.HttpPort}/v1.0/invoke/bench/method/ping");
var peerSidecars = Ping($"http://127.0.0.1:{caller.HttpPort}/v1.0/invoke/bench/method/ping");
foreach (var path in new[] { direct, ownSidecar, peerSidecars })
{
    await Measure.WarmUp(Callers, path);
}
await Compare($"invocation, {Callers} callers", "adds <= 0.5 ms p50, <= 2 ms p99; throughput >= 60% of direct",
    () => Measure.Saturate(Callers, duration, ownSidecar), () => Measure.Saturate(Callers, duration, direct), "one sidecar", "app direct");
await Compare($"invocation, {Callers} callers", "(two sidecars: the gateway's path)",
    () => Measure.Saturate(Callers, duration, peerSidecars), () => Measure.Saturate(Callers, duration, direct), "two sidecars", "app direct");

// publish -> deliver: the time from the publish call to the subscriber seeing the event.
async Task<(Samples, double)> PublishDeliver(Func<string, Task> publish, ConcurrentDictionary<string, long> seen, int? rate)
{
    var samples = new Samples();
    var started = new ConcurrentDictionary<string, long>();
    var clock = Stopwatch.StartNew();
    var sent = 0;
    async Task One()
    {
        var id = Guid.NewGuid().ToString("N");
        started[id] = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref sent);
        await publish(id);
    }
    if (rate is { } r)
    {
        await Measure.FixedRate(r, duration, One);
    }
    else
    {
        await Measure.Saturate(Workers, duration, One);
    }
    var deadline = Stopwatch.StartNew();
    while (started.Keys.Any(k => !seen.ContainsKey(k)) && deadline.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(20);
    }
    foreach (var (id, at) in started)
    {
        if (seen.TryGetValue(id, out var arrived))
        {
            samples.Add(Stopwatch.GetElapsedTime(at, arrived).TotalMilliseconds);
        }
    }
    var delivered = started.Keys.Count(seen.ContainsKey);
    if (delivered < sent)
    {
        Console.WriteLine($"  ({sent - delivered} of {sent} not delivered within 30 s)");
    }
    return (samples, delivered / clock.Elapsed.TotalSeconds);
}

// Baseline: the same stream operations by hand, XADD and a blocking XREADGROUP consumer that XACKs.
var directSeen = new ConcurrentDictionary<string, long>();
using var stopConsumer = new CancellationTokenSource();
await db.ExecuteAsync("DEL", "direct-bench");
await db.StreamCreateConsumerGroupAsync("direct-bench", "g", "$", createStream: true);
var readerOptions = ConfigurationOptions.Parse(redisAddress);
readerOptions.Protocol = RedisProtocol.Resp2;
readerOptions.SyncTimeout = readerOptions.AsyncTimeout = 15000;
var reader = (await ConnectionMultiplexer.ConnectAsync(readerOptions)).GetDatabase();
var consumer = Task.Run(async () =>
{
    while (!stopConsumer.IsCancellationRequested)
    {
        var result = await reader.ExecuteAsync("XREADGROUP", "GROUP", "g", "c", "COUNT", 32, "BLOCK", 500, "STREAMS", "direct-bench", ">");
        if (result.IsNull)
        {
            continue;
        }
        foreach (var stream in (RedisResult[])result!)
        {
            foreach (var entry in (RedisResult[])((RedisResult[])stream!)[1]!)
            {
                var parts = (RedisResult[])entry!;
                var fields = (RedisResult[])parts[1]!;
                var tick = System.Text.Json.JsonSerializer.Deserialize<Tick>((byte[])fields[1]!)!;
                directSeen[tick.Id] = Stopwatch.GetTimestamp();
                _ = db.StreamAcknowledgeAsync("direct-bench", "g", (RedisValue)parts[0]);
            }
        }
    }
});

Measure.Print($"publish->deliver @ {PublishRate}/s", "runtime (gRPC)", await PublishDeliver(id => dapr.PublishEventAsync("pubsub", "bench", payload with { Id = id }), arrivals, PublishRate));
Measure.Print($"publish->deliver @ {PublishRate}/s", "redis direct", await PublishDeliver(id => db.StreamAddAsync("direct-bench", "data", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(payload with { Id = id })), directSeen, PublishRate));
Measure.Print($"publish->deliver, saturated", "runtime (gRPC)", await PublishDeliver(id => dapr.PublishEventAsync("pubsub", "bench", payload with { Id = id }), arrivals, null));
Measure.Print($"publish->deliver, saturated", "redis direct", await PublishDeliver(id => db.StreamAddAsync("direct-bench", "data", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(payload with { Id = id })), directSeen, null));

Console.WriteLine();
Console.WriteLine("Each figure beside its baseline (runtime / baseline):");
ratios.ForEach(Console.WriteLine);

await stopConsumer.CancelAsync();
await consumer;
await app.StopAsync();
Directory.Delete(folder, recursive: true);

internal sealed record Tick(string Id, string Body);
