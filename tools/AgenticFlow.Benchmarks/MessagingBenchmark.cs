using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Client;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// Message bus send->receive latency and throughput, through the gateway and straight to the messaging
/// service's sidecar, beside a baseline of the same queue operations (a priority queue per agent as a Redis
/// sorted set: ZADD to send, ZPOPMAX to receive) done directly against Redis in the same run.
/// </summary>
public static partial class MessagingBenchmark
{
    private const int Agents = 50;
    private const int Rate = 1000;

    /// <summary>A rate this machine sustains, so its latency is service time rather than queueing.</summary>
    private const int SustainedRate = 200;
    private const int Senders = 32;

    /// <summary>Messages per send call in the batched scenario.</summary>
    private const int SendBatch = 50;

    /// <param name="Load">Its BENCH_LOAD name.</param>
    private sealed record Scenario(string Label, string Load, int? Rate, bool BatchAcks = false, int? SendBatch = null);

    public static async Task RunAsync()
    {
        var redisAddress = Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_REDIS") ?? throw new InvalidOperationException("run tools/bench.sh messaging");
        var seconds = double.TryParse(Environment.GetEnvironmentVariable("BENCH_SECONDS"), out var s) ? s : 5;
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
            int mPort = LoopbackPorts.PickFree(), gPort = LoopbackPorts.PickFree();
            var mOptions = new SidecarOptions { AppId = "messaging", AppPort = mPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            var gOptions = new SidecarOptions { AppId = "gateway", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            processes.Add(Start(repo, "Messaging", "AgenticFlow.Messaging", mPort, mOptions, []));
            processes.Add(Start(repo, "Gateway", "AgenticFlow.Gateway", gPort, gOptions, new() { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" }));
            sidecars.Add(await SidecarHost.StartAsync(mOptions, resources, shared, names, loggers));
            sidecars.Add(await SidecarHost.StartAsync(gOptions, resources, shared, names, loggers));
            await sidecars[0].Sidecar.WhenReady;
            // Open-loop overload must queue in the client, as real clients' connection pools do: without a cap every
            // late request opened its own connection, tens of thousands of sockets in the services and the sidecars'
            // process, until it died with "Out of memory" starting a thread and left the services running.
            using var gateway = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{gPort}") };
            gateway.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
            using var direct = new HttpClient(new InvocationHandler
            {
                DaprEndpoint = $"http://127.0.0.1:{mOptions.HttpPort}",
                InnerHandler = new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections },
            }) { BaseAddress = new Uri("http://messaging") };
            await WaitHealthy(gateway, direct);

            var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
            var db = redis.GetDatabase();

            var designs = new DesignRun(repo, folder, resources, shared, names, loggers, processes, sidecars, db, duration);
            if (Environment.GetEnvironmentVariable("BENCH_ONLY") == "designs")
            {
                await CompareMailboxDesigns(designs);
                return;
            }
            // BENCH_PATH=gateway|direct runs send->receive on that path only (no hops, baselines or designs): a steady
            // load to profile under.
            var only = Environment.GetEnvironmentVariable("BENCH_PATH");
            using var app = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{mPort}") };
            if (only is not null)
            {
                Console.WriteLine($"pids: gateway {processes[1].Id}, messaging {processes[0].Id}, sidecars+client {Environment.ProcessId}");
            }
            if (only is null)
            {
                Console.WriteLine($"Hops on a cheap read (GET .../stats), {ReadWorkers} closed loops, {seconds}s each:");
                Console.WriteLine();
                Measure.Header();
                // CPU per request, per process: unlike throughput, it barely moves when other work shares the machine.
                var cpu = new CpuMeter(("gateway", processes[1]), ("messaging", processes[0]), ("runtime+client", Process.GetCurrentProcess()));
                var appRead = await CheapRead(app, duration, cpu);
                var sidecarRead = await CheapRead(direct, duration, cpu);
                var gatewayRead = await CheapRead(gateway, duration, cpu);
                Measure.Print("cheap read", "app direct", appRead.Result);
                Measure.Print("cheap read", "app's sidecar", sidecarRead.Result);
                Measure.Print("cheap read", "via gateway", gatewayRead.Result);
                Measure.Print("cheap read, 1 caller", "app direct", appRead.Alone);
                Measure.Print("cheap read, 1 caller", "app's sidecar", sidecarRead.Alone);
                Measure.Print("cheap read, 1 caller", "via gateway", gatewayRead.Alone);
                Console.WriteLine();
                Console.WriteLine($"CPU ms per request: app direct {appRead.Cpu}; app's sidecar {sidecarRead.Cpu}; via gateway {gatewayRead.Cpu}");
                Console.WriteLine();
                Console.WriteLine($"via gateway / app direct: throughput {gatewayRead.Result.Throughput / appRead.Result.Throughput:P0}, p50 +{gatewayRead.Result.Samples.Percentile(50) - appRead.Result.Samples.Percentile(50):F2} ms" +
                    $" (target: >= 60%, <= +1 ms); app's sidecar adds p50 +{sidecarRead.Result.Samples.Percentile(50) - appRead.Result.Samples.Percentile(50):F2} ms");
                // The issue's "service direct" column is the service called the Dapr way, through its sidecar (as every other
                // service calls it): the gateway's share of the cost shows against that path too.
                Console.WriteLine($"via gateway / service direct (its sidecar): throughput {gatewayRead.Result.Throughput / sidecarRead.Result.Throughput:P0}, p50 +{gatewayRead.Result.Samples.Percentile(50) - sidecarRead.Result.Samples.Percentile(50):F2} ms");
                Console.WriteLine($"at 1 caller the gateway path adds p50 +{gatewayRead.Alone.Samples.Percentile(50) - appRead.Alone.Samples.Percentile(50):F2} ms, p99 +{gatewayRead.Alone.Samples.Percentile(99) - appRead.Alone.Samples.Percentile(99):F2} ms" +
                    $" (gateway and its sidecar: +{gatewayRead.Alone.Samples.Percentile(50) - sidecarRead.Alone.Samples.Percentile(50):F2} ms p50 over the app's sidecar)");
                Console.WriteLine();
            }
            if (Environment.GetEnvironmentVariable("BENCH_ONLY") == "hops")
            {
                return;
            }
            Console.WriteLine($"AgenticFlow message bus benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, {Agents} agents, {BenchComponents.ProfileName}");
            Console.WriteLine("send->receive: from the send call to the message in a consumer's hands (consumers long-poll, max 10 per receive (100 when batched), and ack each or, with batch acks, all a receive gave in one call).");
            Console.WriteLine();
            Measure.Header();
            foreach (var (name, client) in new[] { ("via gateway", gateway), ("service direct", direct) })
            {
                if (only is not null && !name.Contains(only, StringComparison.Ordinal))
                {
                    continue;
                }
                if (only is null)
                {
                    // What a new user meets first: the path right after start, while the JIT still tiers its code up.
                    var (cold, coldSend) = await SendReceive(client, duration, SustainedRate);
                    Measure.Print($"send->receive @ {SustainedRate}/s, cold", name, cold);
                    Measure.Print($"  the send call alone, cold", name, coldSend);
                }
                // Then a steady state: tiered compilation and dynamic PGO take tens of seconds of load on 2 cores
                // before the hot code runs fully optimised (see README "Message bus performance").
                await Warm(client);
                var repeats = int.TryParse(Environment.GetEnvironmentVariable("BENCH_REPEAT"), out var rp) ? rp : 1;
                var scenarios = new Scenario[]
                {
                    new($"@ {SustainedRate}/s", "200", SustainedRate),
                    new($"@ {Rate}/s", "1000", Rate),
                    new($", saturated ({Senders})", "saturated", null),
                    // Consumers that acknowledge what one receive gave them in one call (POST .../ack with items).
                    new($" @ {Rate}/s, batch acks", "1000-batch-acks", Rate, BatchAcks: true),
                    new($", saturated, batch acks", "saturated-batch-acks", null, BatchAcks: true),
                    // Senders that send many in one call (POST /messages/batch, one message to each of SendBatch agents)
                    // and consumers that receive up to 100 and ack them in one call: the batch endpoints' figure.
                    new($", saturated ({Senders}), batches of {SendBatch}", "batched", null, BatchAcks: true, SendBatch: SendBatch),
                    // The same 1,000 messages a second sent as 100 calls of 10.
                    new($" @ {Rate}/s in batches of 10", "1000-batched", Rate / 10, BatchAcks: true, SendBatch: 10),
                };
                foreach (var scenario in scenarios.SelectMany(x => Enumerable.Repeat(x, repeats)))
                {
                    // BENCH_LOAD=200|1000|saturated|... runs that one scenario (with BENCH_PATH, to profile under).
                    if (Environment.GetEnvironmentVariable("BENCH_LOAD") is { } load && load != scenario.Load)
                    {
                        continue;
                    }
                    var (endToEnd, sendCall) = await SendReceive(client, duration, scenario.Rate, scenario.BatchAcks, scenario.SendBatch);
                    Measure.Print($"send->receive{scenario.Label}".Replace("receive@", "receive @", StringComparison.Ordinal), name, endToEnd);
                    Measure.Print(scenario.SendBatch is { } size ? $"  the send call alone ({size} messages)" : "  the send call alone", name, sendCall);
                }
            }
            if (only is not null)
            {
                return;
            }
            Measure.Print($"send->receive @ {SustainedRate}/s", "redis direct", await RedisBaseline(db, duration, SustainedRate));
            Measure.Print($"send->receive @ {Rate}/s", "redis direct", await RedisBaseline(db, duration, Rate));
            Measure.Print($"send->receive, saturated ({Senders})", "redis direct", await RedisBaseline(db, duration, null));
            Console.WriteLine();
            // BENCH_DESIGNS=0 leaves out the side-by-side of the two mailbox designs (minutes, most of it filling a deep one).
            if (Environment.GetEnvironmentVariable("BENCH_DESIGNS") != "0")
            {
                await CompareMailboxDesigns(designs);
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
        }
    }

    private const int ReadWorkers = 16;

    /// <summary>How long consumers' receives wait for a message (BENCH_WAIT; 0 polls every 20 ms instead).</summary>
    private static readonly int LongPollSeconds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_WAIT"), out var w) ? w : 1;
    private const int MaxConnections = 256;

    private static async Task<((Samples Samples, double Throughput) Result, string Cpu, (Samples Samples, double Throughput) Alone)> CheapRead(HttpClient client, TimeSpan duration, CpuMeter cpu)
    {
        async Task Read()
        {
            using var response = await client.GetAsync("/api/v1/messages/queue/warmup/stats");
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        }
        await Measure.WarmUp(ReadWorkers, Read);
        var before = cpu.Read();
        var result = await Measure.Saturate(ReadWorkers, duration, Read);
        var perOperation = cpu.PerOperation(before, result.Samples.Count);
        // One caller: what the hops add to a request that queues behind nobody.
        var alone = await Measure.Saturate(1, duration, Read);
        return (result, perOperation, alone);
    }

    /// <summary>Send->receive latency and delivered rate, and the send calls' own latency and rate.</summary>
    private static async Task<((Samples, double) EndToEnd, (Samples, double) SendCall)> SendReceive(HttpClient client, TimeSpan duration, int? rate, bool batchAcks = false, int? sendBatch = null)
    {
        var receiveMax = sendBatch is null ? 10 : 100;
        var run = Guid.NewGuid().ToString("N")[..8];
        var sentAt = new ConcurrentDictionary<string, long>();
        var samples = new Samples();
        var received = 0;
        var primed = 0;
        using var stop = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, Agents).Select(a => Task.Run(async () =>
        {
            var agent = $"bench-{run}-{a}";
            while (!stop.IsCancellationRequested)
            {
                JsonElement batch;
                try
                {
                    // Not cancelled when the scenario ends: the long poll runs out (at most BENCH_WAIT seconds) as an agent's
                    // would. Cancelling it mid-flight aborted its connection on every hop (client, gateway, sidecars),
                    // and the next scenario began by opening ~150 connections, with the JIT still tiering that rarely run
                    // code: bursts of 15-70 ms sends that were the benchmark's own doing.
                    batch = (await client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/queue/{agent}?max={receiveMax}&waitSeconds={LongPollSeconds}")).GetProperty("messages");
                    if (LongPollSeconds == 0 && batch.GetArrayLength() == 0)
                    {
                        await Task.Delay(20, stop.Token);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                foreach (var m in batch.EnumerateArray())
                {
                    var key = m.GetProperty("body").GetProperty("k").GetString()!;
                    if (key == "prime")
                    {
                        Interlocked.Increment(ref primed);
                    }
                    else if (sentAt.TryGetValue(key, out var at))
                    {
                        samples.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                        Interlocked.Increment(ref received);
                    }
                }
                if (batchAcks && batch.GetArrayLength() > 0)
                {
                    var items = batch.EnumerateArray().Select(m => new { id = m.GetProperty("id").GetString(), leaseToken = m.GetProperty("leaseToken").GetString() }).ToList();
                    (await client.PostAsJsonAsync($"/api/v1/messages/queue/{agent}/ack", new { items })).EnsureSuccessStatusCode();
                    continue;
                }
                foreach (var m in batch.EnumerateArray())
                {
                    await client.PostAsJsonAsync($"/api/v1/messages/queue/{agent}/{m.GetProperty("id").GetString()}/ack", new { leaseToken = m.GetProperty("leaseToken").GetString() });
                }
            }
        })).ToList();
        var n = 0;
        object Message(int i)
        {
            var key = $"{run}-{i}";
            sentAt[key] = Stopwatch.GetTimestamp();
            return new { recipient = new { kind = "agent", id = $"bench-{run}-{i % Agents}" }, priority = "normal", body = new { k = key, pad = new string('p', 200) } };
        }
        async Task Send()
        {
            if (sendBatch is { } size)
            {
                var last = Interlocked.Add(ref n, size);
                var messages = Enumerable.Range(last - size + 1, size).Select(Message).ToList();
                (await client.PostAsJsonAsync("/api/v1/messages/batch", new { messages })).EnsureSuccessStatusCode();
                return;
            }
            var response = await client.PostAsJsonAsync("/api/v1/messages", Message(Interlocked.Increment(ref n)));
            response.EnsureSuccessStatusCode();
        }
        // The agents exist before the clock starts (each has had a message): what is timed is traffic between agents,
        // not the first message that brings a mailbox into being (its actor activated, its listing written).
        await Task.WhenAll(Enumerable.Range(0, Agents).Select(async a => (await client.PostAsJsonAsync("/api/v1/messages",
            new { recipient = new { kind = "agent", id = $"bench-{run}-{a}" }, priority = "normal", body = new { k = "prime" } })).EnsureSuccessStatusCode()));
        await Measure.Until(() => Volatile.Read(ref primed) >= Agents, TimeSpan.FromSeconds(60));
        var clock = Stopwatch.StartNew();
        var sendRun = rate is { } r ? await Measure.FixedRate(r, duration, Send) : await Measure.Saturate(Senders, duration, Send);
        await Measure.Until(() => Volatile.Read(ref received) >= sentAt.Count, TimeSpan.FromSeconds(60));
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(consumers);
        if (received < sentAt.Count)
        {
            Console.WriteLine($"  ({sentAt.Count - received} of {sentAt.Count} not received within 60 s)");
        }
        return ((samples, received / elapsed.TotalSeconds), sendRun);
    }

    private static async Task<(Samples, double)> RedisBaseline(IDatabase db, TimeSpan duration, int? rate)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var sentAt = new ConcurrentDictionary<string, long>();
        var samples = new Samples();
        var received = 0;
        using var stop = new CancellationTokenSource();
        // The same shape as the service: a priority queue per agent, consumers polling it.
        var consumers = Enumerable.Range(0, Agents).Select(a => Task.Run(async () =>
        {
            var queue = $"baseline:{run}:{a}";
            while (!stop.IsCancellationRequested)
            {
                var items = await db.SortedSetPopAsync(queue, 10, Order.Descending);
                foreach (var item in items)
                {
                    var key = (string)item.Element!;
                    if (sentAt.TryGetValue(key, out var at))
                    {
                        samples.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                        Interlocked.Increment(ref received);
                    }
                }
                if (items.Length == 0)
                {
                    await Task.Delay(1);
                }
            }
        })).ToList();
        var n = 0;
        async Task Send()
        {
            var i = Interlocked.Increment(ref n);
            var key = $"{run}-{i}";
            sentAt[key] = Stopwatch.GetTimestamp();
            await db.SortedSetAddAsync($"baseline:{run}:{i % Agents}", key, 1);
        }
        var clock = Stopwatch.StartNew();
        _ = rate is { } r ? await Measure.FixedRate(r, duration, Send) : await Measure.Saturate(Senders, duration, Send);
        await Measure.Until(() => Volatile.Read(ref received) >= sentAt.Count, TimeSpan.FromSeconds(30), pollMilliseconds: 5);
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(consumers);
        return (samples, received / elapsed.TotalSeconds);
    }

    /// <summary>Runs the scenarios' own shapes untimed (single sends and acks, batch acks, batch sends; 50 agents
    /// long-polling) until the path's code is fully compiled (see <see cref="Measure.WarmUp"/>): a warm-up of one
    /// agent without long polls left the code the scenarios run still tiering up during the first two of them.</summary>
    private static async Task Warm(HttpClient client)
    {
        var third = Measure.WarmUpDuration / 3;
        await SendReceive(client, third, null);
        await SendReceive(client, third, null, batchAcks: true);
        await SendReceive(client, third, null, batchAcks: true, sendBatch: SendBatch);
    }

    /// <summary>Every client's path answers the cheap read.</summary>
    private static async Task WaitHealthy(params HttpClient[] clients)
    {
        foreach (var client in clients)
        {
            await BenchComponents.WaitUntilServing("the messaging service", () => BenchComponents.Answers(client, "/api/v1/messages/queue/warmup/stats"));
        }
    }

    internal static Process Start(string repo, string project, string assembly, int port, SidecarOptions sidecar, Dictionary<string, string> env)
    {
        var dll = Path.Combine(repo, "services", project, "bin", "Release", "net10.0", assembly + ".dll");
        var info = new ProcessStartInfo("dotnet", dll) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{sidecar.HttpPort}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{sidecar.GrpcPort}";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[{project}] {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
