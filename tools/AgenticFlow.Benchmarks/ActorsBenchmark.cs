using System.Collections.Concurrent;
using System.Net;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Actors;
using Dapr.Actors.Client;
using Dapr.Actors.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

public interface IBenchCounter : IActor
{
    Task<long> Add(long amount);
}

/// <summary>The actor logic measured: read a count, add, write it back (the SDK saves state after the call).</summary>
public sealed class BenchCounter(ActorHost host) : Actor(host), IBenchCounter
{
    public async Task<long> Add(long amount)
    {
        var current = await StateManager.TryGetStateAsync<long>("count");
        var next = (current.HasValue ? current.Value : 0) + amount;
        await StateManager.SetStateAsync("count", next);
        return next;
    }
}

/// <summary>
/// Actor method calls through the local runtime (Dapr.Actors proxy → sidecar → app → actor state in Redis),
/// beside the same logic called in-process without the runtime: a turn lock per actor and the count kept in
/// Redis directly (and, as a floor, in memory). Figures only; no pass/fail.
/// </summary>
public static class ActorsBenchmark
{
    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("actors");
        var duration = TimeSpan.FromSeconds(seconds);
        const int Rate = 500, Workers = 32, Actors = 1000;
        var folder = BenchComponents.Write(redisAddress, pubsub: false, null);

        var sidecarHttp = LoopbackPorts.PickFree();
        var appPort = LoopbackPorts.PickFree();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, appPort));
        builder.Services.AddRouting();
        builder.Services.AddActors(o =>
        {
            o.HttpEndpoint = $"http://127.0.0.1:{sidecarHttp}";
            o.Actors.RegisterActor<BenchCounter>();
        });
        await using var app = builder.Build();
        app.MapActorsHandlers();
        await app.StartAsync();

        await using var shared = new SharedResources();
        var options = new SidecarOptions { AppId = "bench-actors", AppPort = appPort, HttpPort = sidecarHttp, GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
        await using var sidecar = await SidecarHost.StartAsync(options, ResourceLoader.Load([folder]), shared, new NameRegistry(Path.Combine(folder, "names")),
            LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error)));
        await sidecar.Sidecar.WhenReady;

        var proxies = new ActorProxyFactory(new ActorProxyOptions { HttpEndpoint = $"http://127.0.0.1:{sidecarHttp}" });
        var actors = Enumerable.Range(0, Actors).Select(i => proxies.CreateActorProxy<IBenchCounter>(new ActorId("bench-" + i), nameof(BenchCounter))).ToArray();
        var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
        var baseline = new InProcessCounters(redis.GetDatabase());
        var memory = new InProcessCounters(null);
        var n = 0;
        int Next() => (int)((uint)Interlocked.Increment(ref n) % Actors);

        Console.WriteLine($"AgenticFlow actor benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, {Actors} actors, state in Redis at {redisAddress}");
        Console.WriteLine();
        Measure.Header();
        // Warm up: every actor activated once, connections open.
        await Task.WhenAll(actors.Select(a => a.Add(0)));
        for (var i = 0; i < 500; i++)
        {
            await baseline.Add("bench-" + (i % Actors), 0);
        }

        var atRate = await Measure.FixedRate(Rate, duration, () => actors[Next()].Add(1));
        var atRateBaseline = await Measure.FixedRate(Rate, duration, () => baseline.Add("bench-" + Next(), 1));
        Measure.Print($"actor call @ {Rate}/s", "runtime", atRate);
        Measure.Print($"actor call @ {Rate}/s", "in-process+redis", atRateBaseline);
        Measure.Print($"actor call @ {Rate}/s", "in-process memory", await Measure.FixedRate(Rate, duration, () => memory.Add("bench-" + Next(), 1)));
        var saturated = await Measure.Saturate(Workers, duration, () => actors[Next()].Add(1));
        var saturatedBaseline = await Measure.Saturate(Workers, duration, () => baseline.Add("bench-" + Next(), 1));
        Measure.Print($"actor call, saturated ({Workers} callers)", "runtime", saturated);
        Measure.Print($"actor call, saturated ({Workers} callers)", "in-process+redis", saturatedBaseline);
        Measure.Print($"actor call, saturated ({Workers} callers)", "in-process memory", await Measure.Saturate(Workers, duration, () => memory.Add("bench-" + Next(), 1)));
        Measure.Print("one hot actor, saturated", "runtime", await Measure.Saturate(Workers, duration, () => actors[0].Add(1)));
        Measure.Print("one hot actor, saturated", "in-process+redis", await Measure.Saturate(Workers, duration, () => baseline.Add("bench-0", 1)));
        Console.WriteLine();
        Console.WriteLine(Measure.Ratio($"actor call @ {Rate}/s (runtime / in-process+redis)", atRate, atRateBaseline, "p99 < 5 ms (Dapr publishes 6.2 ms at 500/s)"));
        Console.WriteLine(Measure.Ratio($"actor call, saturated ({Workers} callers)", saturated, saturatedBaseline, "none set; the share of the baseline"));
    }

    /// <summary>The same logic without the runtime: one turn at a time per actor, count read and written per call.</summary>
    private sealed class InProcessCounters(IDatabase? redis)
    {
        private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new();
        private readonly ConcurrentDictionary<string, long> _memory = new();

        public async Task<long> Add(string id, long amount)
        {
            var turn = _locks.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
            await turn.WaitAsync();
            try
            {
                var key = "bench-inproc||" + id;
                long current = redis is null ? _memory.GetValueOrDefault(key) : (long?)await redis.StringGetAsync(key) ?? 0;
                var next = current + amount;
                if (redis is null)
                {
                    _memory[key] = next;
                }
                else
                {
                    await redis.StringSetAsync(key, next);
                }
                return next;
            }
            finally
            {
                turn.Release();
            }
        }
    }
}
