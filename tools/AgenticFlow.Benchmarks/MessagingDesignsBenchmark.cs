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

/// <summary>What the mailbox design comparison needs from the messaging benchmark's run.</summary>
public sealed record DesignRun(string Repo, string Folder, ResourceSet Resources, SharedResources Shared, NameRegistry Names, ILoggerFactory Loggers,
    List<Process> Processes, List<SidecarHost> Sidecars, IDatabase Redis, TimeSpan Duration);

public static partial class MessagingBenchmark
{
    /// <summary>Messages a deep mailbox holds while it is measured (BENCH_DEEP, default 5,000).</summary>
    private static int DeepDepth => int.TryParse(Environment.GetEnvironmentVariable("BENCH_DEEP"), out var d) ? d : 5_000;

    /// <summary>Sends (and receives) a second on a deep mailbox: low enough for the document design to keep up at depth 0.</summary>
    private const int DeepRate = 50;

    private static readonly string[] Designs = ["actor", "document"];

    /// <summary>
    /// Both mailbox designs in one run, each in its own messaging service (own app id, so own state) behind its own
    /// sidecar, called straight through the sidecar: the send->receive scenarios, then a mailbox already holding
    /// <see cref="DeepDepth"/> messages that is sent to and received from at <see cref="DeepRate"/>/s (depth stays put),
    /// beside the same at depth 0, so the cost by depth shows. Every figure is printed beside Redis doing the same queue
    /// operations (sorted set) in the same run, with the ratio.
    /// </summary>
    private static async Task CompareMailboxDesigns(DesignRun run)
    {
        var clients = new Dictionary<string, HttpClient>();
        foreach (var design in Designs)
        {
            var appId = $"messaging-{design}";
            var options = new SidecarOptions { AppId = appId, AppPort = LoopbackPorts.PickFree(), HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [run.Folder] };
            run.Processes.Add(Start(run.Repo, "Messaging", "AgenticFlow.Messaging", options.AppPort!.Value, options, new() { ["Messaging__Mailboxes"] = design }));
            var sidecar = await SidecarHost.StartAsync(options, run.Resources, run.Shared, run.Names, run.Loggers);
            run.Sidecars.Add(sidecar);
            await sidecar.Sidecar.WhenReady;
            clients[design] = new HttpClient(new InvocationHandler
            {
                DaprEndpoint = $"http://127.0.0.1:{options.HttpPort}",
                InnerHandler = new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections },
            }) { BaseAddress = new Uri($"http://{appId}"), Timeout = TimeSpan.FromMinutes(10) };
        }
        await WaitHealthy([.. clients.Values]);
        var services = run.Processes.TakeLast(Designs.Length).ToArray();
        Console.WriteLine($"Mailbox designs side by side (Messaging:Mailboxes), service direct through its sidecar, {run.Duration.TotalSeconds}s per scenario, Redis profile.");
        Console.WriteLine("Each scenario runs for one design right after the other, so both meet much the same load from the rest of the machine.");
        Console.WriteLine();
        Measure.Header();
        var rows = new List<(string Scenario, string Path, (Samples Samples, double Throughput) Result, string Cpu)>();
        void Row(string scenario, string path, (Samples Samples, double Throughput) result, string cpu = "")
        {
            rows.Add((scenario, path, result, cpu));
            Measure.Print(scenario, path, result);
        }
        // CPU per message of the design's service and of this process (which hosts the sidecars): steadier than
        // latency when other work shares the machine.
        async Task Scenario(string scenario, Func<HttpClient, Task<(Samples Samples, double Throughput)>> measure)
        {
            for (var i = 0; i < Designs.Length; i++)
            {
                var cpu = new CpuMeter((Designs[i], services[i]), ("runtime+client", Process.GetCurrentProcess()));
                var before = cpu.Read();
                var result = await measure(clients[Designs[i]]);
                Row(scenario, Designs[i], result, cpu.PerOperation(before, result.Samples.Count));
            }
        }
        foreach (var design in Designs)
        {
            await Warm(clients[design]);
        }
        await Scenario($"send->receive @ {SustainedRate}/s", async c => (await SendReceive(c, run.Duration, SustainedRate)).EndToEnd);
        Row($"send->receive @ {SustainedRate}/s", "redis direct", await RedisBaseline(run.Redis, run.Duration, SustainedRate));
        await Scenario($"send->receive @ {Rate}/s", async c => (await SendReceive(c, run.Duration, Rate)).EndToEnd);
        Row($"send->receive @ {Rate}/s", "redis direct", await RedisBaseline(run.Redis, run.Duration, Rate));
        await Scenario($"send->receive, saturated ({Senders})", async c => (await SendReceive(c, run.Duration, null)).EndToEnd);
        Row($"send->receive, saturated ({Senders})", "redis direct", await RedisBaseline(run.Redis, run.Duration, null));
        foreach (var depth in new[] { 0, DeepDepth })
        {
            var receives = new Dictionary<string, (Samples, double)>();
            await Scenario($"depth {depth:N0}: send", async c =>
            {
                var fill = Stopwatch.StartNew();
                var (send, receive) = await DeepQueue(c, depth, run.Duration);
                receives[c.BaseAddress!.Host] = receive;
                if (depth > 0)
                {
                    Console.WriteLine($"  ({c.BaseAddress.Host}: filling the mailbox and measuring took {fill.Elapsed.TotalSeconds:F0} s)");
                }
                return send;
            });
            foreach (var design in Designs)
            {
                Row($"depth {depth:N0}: receive+ack", design, receives[$"messaging-{design}"]);
            }
            var (redisSend, redisReceive) = await DeepRedis(run.Redis, depth, run.Duration);
            Row($"depth {depth:N0}: send", "redis direct", redisSend);
            Row($"depth {depth:N0}: receive+ack", "redis direct", redisReceive);
        }
        Console.WriteLine();
        Console.WriteLine("Each design beside the Redis baseline (p50 and p99 as multiples of Redis's, throughput as a share of it; CPU ms per message, total (service, runtime+client)):");
        foreach (var scenario in rows.Select(r => r.Scenario).Distinct())
        {
            var redis = rows.Single(r => r.Scenario == scenario && r.Path == "redis direct").Result;
            var parts = Designs.Select(design => rows.Single(r => r.Scenario == scenario && r.Path == design))
                .Select(r => $"{r.Path} p50 x{Ratio(r.Result.Samples.Percentile(50), redis.Samples.Percentile(50))}, p99 x{Ratio(r.Result.Samples.Percentile(99), redis.Samples.Percentile(99))}, "
                    + $"{r.Result.Throughput / redis.Throughput:P0} of its ops/s" + (r.Cpu.Length > 0 ? $", CPU {r.Cpu}" : ""));
            Console.WriteLine($"  {scenario}: {string.Join("; ", parts)}");
        }
        foreach (var client in clients.Values)
        {
            client.Dispose();
        }
    }

    private static string Ratio(double value, double baseline) => baseline > 0 ? (value / baseline).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "n/a";

    /// <summary>Fills a mailbox to <paramref name="depth"/> (batches of 100), then at <see cref="DeepRate"/>/s sends one
    /// message and receives and acks one, so the depth stays put; each half is timed on its own.</summary>
    private static async Task<((Samples, double) Send, (Samples, double) Receive)> DeepQueue(HttpClient client, int depth, TimeSpan duration)
    {
        var agent = $"deep-{Guid.NewGuid().ToString("N")[..8]}";
        object Message(int i) => new { recipient = new { kind = "agent", id = agent }, body = new { i, pad = new string('p', 200) } };
        // Small batches: in the document design every message of a batch rewrites the whole mailbox, which takes long at depth.
        for (var filled = 0; filled < depth; filled += 20)
        {
            var batch = Enumerable.Range(filled, Math.Min(20, depth - filled)).Select(Message).ToList();
            (await client.PostAsJsonAsync("/api/v1/messages/batch", new { messages = batch })).EnsureSuccessStatusCode();
        }
        var send = new Samples();
        var receive = new Samples();
        var n = depth;
        var failed = 0;
        var clock = Stopwatch.StartNew();
        await Measure.FixedRate(DeepRate, duration, async () =>
        {
            var start = Stopwatch.GetTimestamp();
            using var sent = await client.PostAsJsonAsync("/api/v1/messages", Message(Interlocked.Increment(ref n)));
            if (!sent.IsSuccessStatusCode)
            {
                // Counted, not fatal: the document design gives up on a mailbox after 50 lost ETag races (a 500).
                Interlocked.Increment(ref failed);
                return;
            }
            send.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            start = Stopwatch.GetTimestamp();
            using var received = await client.GetAsync($"/api/v1/messages/queue/{agent}?max=1");
            if (!received.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref failed);
                return;
            }
            var messages = (await received.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages");
            foreach (var m in messages.EnumerateArray())
            {
                // 409 is an answer too: under overload a lease can run out before its ack arrives.
                using var ack = await client.PostAsJsonAsync($"/api/v1/messages/queue/{agent}/{m.GetProperty("id").GetString()}/ack", new { leaseToken = m.GetProperty("leaseToken").GetString() });
                if (!ack.IsSuccessStatusCode && ack.StatusCode != System.Net.HttpStatusCode.Conflict)
                {
                    Interlocked.Increment(ref failed);
                }
            }
            receive.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        });
        var elapsed = clock.Elapsed.TotalSeconds;
        if (failed > 0)
        {
            Console.WriteLine($"  ({client.BaseAddress!.Host}: {failed} sends, receives or acks at depth {depth:N0} failed)");
        }
        return ((send, send.Count / elapsed), (receive, receive.Count / elapsed));
    }

    /// <summary>The same on a Redis sorted set holding <paramref name="depth"/> members: ZADD, then ZPOPMAX.</summary>
    private static async Task<((Samples, double) Send, (Samples, double) Receive)> DeepRedis(IDatabase db, int depth, TimeSpan duration)
    {
        var queue = $"deep:{Guid.NewGuid().ToString("N")[..8]}";
        for (var filled = 0; filled < depth; filled += 1000)
        {
            await db.SortedSetAddAsync(queue, Enumerable.Range(filled, Math.Min(1000, depth - filled)).Select(i => new SortedSetEntry($"m{i}", 1)).ToArray());
        }
        var send = new Samples();
        var receive = new Samples();
        var n = depth;
        var clock = Stopwatch.StartNew();
        await Measure.FixedRate(DeepRate, duration, async () =>
        {
            var start = Stopwatch.GetTimestamp();
            await db.SortedSetAddAsync(queue, $"m{Interlocked.Increment(ref n)}", 1);
            send.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            start = Stopwatch.GetTimestamp();
            await db.SortedSetPopAsync(queue, Order.Descending);
            receive.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        });
        var elapsed = clock.Elapsed.TotalSeconds;
        await db.KeyDeleteAsync(queue);
        return ((send, send.Count / elapsed), (receive, receive.Count / elapsed));
    }
}
