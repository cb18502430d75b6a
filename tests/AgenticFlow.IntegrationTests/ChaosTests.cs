using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgenticFlow.IntegrationTests;

/// <summary>A Redis server of one test's own (append-only, fsync on every write), so the test can kill -9 it.</summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("agenticflow-chaos-redis-").FullName;
    private Process? _process;

    public int Port { get; } = TestSidecar.FreePort();
    public string Address => $"127.0.0.1:{Port}";

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", Port.ToString(), "--dir", _dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always" })
        {
            info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.True(async () =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, $"redis on {Address}", 30);
    }

    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Sends the server a signal by name (<c>STOP</c> makes it stop answering without closing a connection,
    /// <c>CONT</c> lets it go on).</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>
/// Chaos under load, through the gateway: a steady mix of sends, receives with acks, and completions while the
/// messaging service, the providers service, messaging's sidecar and Redis are each killed with SIGKILL and started
/// again. Every message the bus accepted is delivered afterwards, none is held by two consumers at once, and no
/// call outlives its deadline.
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(20);
    private static readonly string[] Agents = ["chaos-1", "chaos-2", "chaos-3"];

    private sealed record Delivery(string Id, string Receiver, DateTime ReceivedAt, DateTime AckSentAt, HttpStatusCode? Ack);

    [Fact]
    public async Task KillingServicesSidecarAndRedis_UnderLoad_LosesNoAcceptedMessage_AndNeverLeasesOneTwice()
    {
        await using var redis = new PrivateRedis();
        await redis.StartAsync();
        using var folder = new ComponentsFolder()
            .Add("statestore.yaml", $"""
                apiVersion: dapr.io/v1alpha1
                kind: Component
                metadata:
                  name: statestore
                spec:
                  type: state.redis
                  version: v1
                  metadata:
                  - name: redisHost
                    value: "{redis.Address}"
                  - name: actorStateStore
                    value: "true"
                """)
            .Add("pubsub.yaml", $"""
                apiVersion: dapr.io/v1alpha1
                kind: Component
                metadata:
                  name: pubsub
                spec:
                  type: pubsub.redis
                  version: v1
                  metadata:
                  - name: redisHost
                    value: "{redis.Address}"
                """);
        await using var platform = await PlatformHarness.StartAsync(
            new Dictionary<string, Dictionary<string, string>> { ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" } },
            folder, processSidecars: new HashSet<string> { "messaging" });
        using var http = new HttpClient { BaseAddress = platform.Client.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };

        var accepted = new ConcurrentDictionary<string, int>();
        var deliveries = new ConcurrentQueue<Delivery>();
        var delivered = new ConcurrentDictionary<string, bool>();
        var outcomes = new ConcurrentDictionary<string, int>();
        var hung = new ConcurrentQueue<string>();
        using var stopSending = new CancellationTokenSource();
        using var stopReceiving = new CancellationTokenSource();

        async Task<HttpResponseMessage?> Call(string what, Func<HttpRequestMessage> make)
        {
            using var deadline = new CancellationTokenSource(CallDeadline);
            try
            {
                var request = make();
                request.Headers.Add("X-Api-Key", "dev-admin-key");
                var response = await http.SendAsync(request, deadline.Token);
                outcomes.AddOrUpdate($"{what} {(int)response.StatusCode}", 1, (_, n) => n + 1);
                return response;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                hung.Enqueue($"{what} took longer than {CallDeadline.TotalSeconds} s");
                return null;
            }
            catch (HttpRequestException ex)
            {
                outcomes.AddOrUpdate($"{what} {ex.HttpRequestError}", 1, (_, n) => n + 1);
                return null;
            }
        }

        var sequence = 0;
        async Task SendLoop()
        {
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(25));
            while (await pace.WaitForNextTickAsync(stopSending.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result))
            {
                var n = Interlocked.Increment(ref sequence);
                using var response = await Call("send", () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
                {
                    Content = JsonContent.Create(new { recipient = new { kind = "agent", id = Agents[n % Agents.Length] }, body = new { n } }),
                });
                if (response?.StatusCode == HttpStatusCode.Accepted)
                {
                    accepted[(await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!] = n;
                }
            }
        }

        async Task ReceiveLoop(string agent, string receiver)
        {
            while (!stopReceiving.IsCancellationRequested)
            {
                using var response = await Call("receive", () => new HttpRequestMessage(HttpMethod.Get, $"/api/v1/messages/queue/{agent}?max=20&leaseSeconds=5&waitSeconds=1"));
                if (response?.StatusCode != HttpStatusCode.OK)
                {
                    // Part of the platform is down: a client backs off briefly before asking again (a retry pause, not a test wait).
                    await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
                    continue;
                }
                var receivedAt = DateTime.UtcNow;
                foreach (var message in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages").EnumerateArray())
                {
                    var id = message.GetProperty("id").GetString()!;
                    var ackSentAt = DateTime.UtcNow;
                    using var ack = await Call("ack", () => new HttpRequestMessage(HttpMethod.Post, $"/api/v1/messages/queue/{agent}/{id}/ack")
                    {
                        Content = JsonContent.Create(new { leaseToken = message.GetProperty("leaseToken").GetString() }),
                    });
                    deliveries.Enqueue(new Delivery(id, receiver, receivedAt, ackSentAt, ack?.StatusCode));
                    delivered[id] = true;
                }
            }
        }

        async Task CompleteLoop()
        {
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
            while (await pace.WaitForNextTickAsync(stopSending.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result))
            {
                using var _ = await Call("complete", () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/providers/complete")
                {
                    Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "still there?" } } }),
                });
            }
        }

        var load = new List<Task> { SendLoop(), SendLoop(), CompleteLoop() };
        load.AddRange(Agents.SelectMany(agent => new[] { ReceiveLoop(agent, agent + "/A"), ReceiveLoop(agent, agent + "/B") }));

        // Each step waits for the load to make progress, breaks one part, waits until callers see it broken, and
        // starts it again: the schedule follows what happens rather than a clock.
        async Task Break(string part, Func<Task> kill, Func<Task> restart, string failingCall)
        {
            var acceptedBefore = accepted.Count;
            await Eventually.True(() => accepted.Count >= acceptedBefore + 20, $"20 more accepted sends before killing {part}", 60);
            var failuresBefore = Failures(failingCall);
            await kill();
            await Eventually.True(() => Failures(failingCall) >= failuresBefore + 3, $"callers to notice that {part} is down", 60);
            await restart();
            output.WriteLine($"{part}: killed and started again; {accepted.Count} sends accepted so far");
        }
        int Failures(string call) => outcomes.Where(o => o.Key.StartsWith(call + " ", StringComparison.Ordinal) && !o.Key.EndsWith(" 200") && !o.Key.EndsWith(" 202") && !o.Key.EndsWith(" 204")).Sum(o => o.Value);

        await Break("the messaging service", () => platform.KillServiceAsync("messaging"), () => platform.RestartServiceAsync("messaging"), "send");
        await Break("the providers service", () => platform.KillServiceAsync("providers"), () => platform.RestartServiceAsync("providers"), "complete");
        await Break("messaging's sidecar", () => platform.KillSidecarAsync("messaging"), () => platform.RestartSidecarAsync("messaging"), "send");
        await Break("Redis", redis.KillAsync, redis.StartAsync, "send");
        var acceptedAtEnd = accepted.Count;
        await Eventually.True(() => accepted.Count >= acceptedAtEnd + 20, "sends to be accepted again after the last restart", 60);
        await stopSending.CancelAsync();

        // Everything accepted arrives, if need be once its lease (5 s) from a receive lost in a crash has run out.
        // Every accepted message is delivered at least once (an ack whose answer was lost in a crash may still have
        // taken effect, so delivery is what counts), and the queues drain: nothing is left stuck or leased.
        var stats = new List<string>();
        async Task<bool> Drained()
        {
            if (!accepted.Keys.All(delivered.ContainsKey))
            {
                return false;
            }
            stats.Clear();
            foreach (var agent in Agents)
            {
                using var response = await Call("stats", () => new HttpRequestMessage(HttpMethod.Get, $"/api/v1/messages/queue/{agent}/stats"));
                var text = response is null ? "no answer" : await response.Content.ReadAsStringAsync();
                stats.Add($"{agent}: {text}");
                if (!text.Contains("\"depth\":0,\"leased\":0", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }
        try
        {
            await Eventually.True(Drained, "every accepted message delivered and every queue drained", 90);
        }
        catch (Xunit.Sdk.FailException)
        {
            // The assertions below say what is missing.
        }
        var missing = accepted.Where(a => !delivered.ContainsKey(a.Key)).OrderBy(a => a.Value).ToList();
        output.WriteLine($"never delivered: {string.Join(", ", missing.Take(20).Select(m => $"#{m.Value} {m.Key} to {Agents[m.Value % Agents.Length]}"))}");
        output.WriteLine("queues: " + string.Join("; ", stats));
        Assert.True(missing.Count == 0, $"{missing.Count} accepted messages were never delivered");
        Assert.All(stats, s => Assert.Contains("\"depth\":0,\"leased\":0", s));
        await stopReceiving.CancelAsync();
        await Task.WhenAll(load);

        // Two receivers held one message at once if the second got it before the first acknowledged it successfully.
        var doubleLeases = deliveries.GroupBy(d => d.Id).SelectMany(g => g.SelectMany(first => g.Where(second =>
            second != first && first.Ack == HttpStatusCode.NoContent && second.ReceivedAt > first.ReceivedAt && second.ReceivedAt < first.AckSentAt))).ToList();
        output.WriteLine($"accepted {accepted.Count} of {sequence} sends; {deliveries.Count} deliveries; outcomes: {string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} x{o.Value}"))}");
        Assert.Empty(hung);
        Assert.Empty(doubleLeases);
        Assert.True(accepted.Count > 100, $"only {accepted.Count} sends were accepted: the load did not run");
        foreach (var (app, service) in platform.Services)
        {
            using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.Port}") };
            Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/readyz")).StatusCode);
        }
    }
}
