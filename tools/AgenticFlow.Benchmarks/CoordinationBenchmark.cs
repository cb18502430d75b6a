using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// Coordination through the gateway with the real agents and messaging services: task submit → assigned (the 202
/// names the agent the task is stored with) with 100 agents at 100 tasks/s, and a 10-agent consensus round from its
/// start to its close with every external vote answered at once. Each beside in-process baselines in the same run:
/// the same domain code with no I/O, and the same code plus the one Redis write any durable implementation needs.
/// </summary>
public static class CoordinationBenchmark
{
    private const int Agents = 100, Rate = 100, LightRate = 20, Voters = 10, Rounds = 30;

    private static readonly string[] Apps = ["messaging", "agents", "coordination", "gateway"];

    private static readonly Dictionary<string, (string Project, string Assembly)> Projects = new()
    {
        ["messaging"] = ("Messaging", "AgenticFlow.Messaging"),
        ["agents"] = ("Agents", "AgenticFlow.Agents"),
        ["coordination"] = ("Coordination", "AgenticFlow.Coordination"),
        ["gateway"] = ("Gateway", "AgenticFlow.Gateway"),
    };

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("coordination");
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
            var gatewayPort = 0;
            foreach (var app in Apps)
            {
                var port = LoopbackPorts.PickFree();
                var options = new SidecarOptions { AppId = app, AppPort = app == "gateway" ? null : port, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
                Dictionary<string, string> env = app switch
                {
                    "gateway" => new() { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" },
                    "agents" => new() { ["Agents__HeartbeatTimeoutSeconds"] = "86400" },
                    _ => [],
                };
                processes.Add(MessagingBenchmark.Start(repo, Projects[app].Project, Projects[app].Assembly, port, options, env));
                sidecars.Add(await SidecarHost.StartAsync(options, resources, shared, names, loggers));
                gatewayPort = port;
            }
            using var gateway = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://127.0.0.1:{gatewayPort}") };
            gateway.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
            await WaitUntilServing(gateway);
            var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
            var db = redis.GetDatabase();

            var run = Guid.NewGuid().ToString("N")[..6];
            Console.WriteLine($"AgenticFlow coordination benchmark: {Environment.ProcessorCount} cores, {seconds}s per rate scenario, {Agents} external agents, Redis profile");
            Console.WriteLine("submit->assigned: POST /teams/{id}/tasks through the gateway until its 202, which names the agent the task is stored with.");
            Console.WriteLine();
            Measure.Header();
            var (teamId, _) = await FormTeamAsync(gateway, $"bench-{run}", Agents, maxConcurrent: 1000);
            for (var i = 0; i < 50; i++)
            {
                await SubmitAsync(gateway, teamId);
            }
            // First a rate well below what this machine sustains, so its latency is service time rather than queueing.
            Measure.Print($"submit->assigned @ {LightRate}/s", "via gateway", await Measure.FixedRate(LightRate, duration, () => SubmitAsync(gateway, teamId)));
            var viaGateway = await Measure.FixedRate(Rate, duration, () => SubmitAsync(gateway, teamId));
            Measure.Print($"submit->assigned @ {Rate}/s", "via gateway", viaGateway);
            var inProcess = await Measure.FixedRate(Rate, duration, InProcessSubmit(Agents, db: null));
            Measure.Print($"submit->assigned @ {Rate}/s", "in-process", inProcess);
            var durable = await Measure.FixedRate(Rate, duration, InProcessSubmit(Agents, db));
            Measure.Print($"submit->assigned @ {Rate}/s", "in-process+redis", durable);
            Console.WriteLine();
            Console.WriteLine($"via gateway p99 {viaGateway.Samples.Percentile(99):F2} ms (target < 25 ms; seed < 100 ms) = {viaGateway.Samples.Percentile(99) / durable.Samples.Percentile(99):F1}x the in-process+redis baseline");
            Console.WriteLine();

            Console.WriteLine($"consensus round: POST /coordination/consensus ({Voters} external agents, majority) → every vote posted at once → GET until closed; {Rounds} rounds one after another.");
            Console.WriteLine();
            Measure.Header();
            var voters = await FormTeamAsync(gateway, $"bench-vote-{run}", Voters, maxConcurrent: 10);
            var rounds = await Sequential(Rounds, () => RoundAsync(gateway, voters.TeamId, voters.Members));
            Measure.Print($"{Voters}-agent round, end to end", "via gateway", rounds);
            var roundInProcess = await Sequential(Rounds * 10, () => InProcessRound(null));
            Measure.Print($"{Voters}-agent round, end to end", "in-process", roundInProcess);
            var roundDurable = await Sequential(Rounds, () => InProcessRound(db));
            Measure.Print($"{Voters}-agent round, end to end", "in-process+redis", roundDurable);
            Console.WriteLine();
            Console.WriteLine($"via gateway p50 {rounds.Samples.Percentile(50):F2} ms = {rounds.Samples.Percentile(50) / roundDurable.Samples.Percentile(50):F1}x the in-process+redis baseline");
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

    private static async Task<(string TeamId, string[] Members)> FormTeamAsync(HttpClient gateway, string prefix, int count, int maxConcurrent)
    {
        var members = Enumerable.Range(0, count).Select(i => $"{prefix}-{i}").ToArray();
        await Parallel.ForEachAsync(members, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
        {
            using var response = await gateway.PostAsJsonAsync("/api/v1/agents", new
            {
                id,
                name = id,
                kind = "external",
                capabilities = new[] { new { name = "bench", proficiency = 0.5 } },
                maxConcurrentTasks = maxConcurrent,
            }, ct);
            Ensure(response, "register");
        });
        using var formed = await gateway.PostAsJsonAsync("/api/v1/teams", new { name = prefix, members, strategy = "least-loaded" });
        Ensure(formed, "form the team");
        return ((await formed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!, members);
    }

    private static async Task SubmitAsync(HttpClient gateway, string teamId)
    {
        using var response = await gateway.PostAsJsonAsync($"/api/v1/teams/{teamId}/tasks", new { description = "bench", input = new { n = 1 } });
        Ensure(response, "submit");
    }

    private static async Task RoundAsync(HttpClient gateway, string teamId, string[] members)
    {
        using var started = await gateway.PostAsJsonAsync("/api/v1/coordination/consensus", new { teamId, proposal = "go?", mode = "majority", deadlineSeconds = 60 });
        Ensure(started, "start a round");
        var roundId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("roundId").GetString();
        await Task.WhenAll(members.Select(async agent =>
        {
            using var vote = await gateway.PostAsJsonAsync($"/api/v1/coordination/consensus/{roundId}/votes", new { agentId = agent, choice = "approve", reason = "fine" });
            // A vote after the round settled (a majority already approved) is refused: the round is closed.
            if (!vote.IsSuccessStatusCode && vote.StatusCode != System.Net.HttpStatusCode.Conflict)
            {
                Ensure(vote, "vote");
            }
        }));
        while ((await gateway.GetFromJsonAsync<JsonElement>($"/api/v1/coordination/consensus/{roundId}")).GetProperty("status").GetString() != "closed")
        {
            await Task.Delay(5);
        }
    }

    /// <summary>The coordination domain alone: a board of <paramref name="agents"/> members and the least-loaded
    /// strategy placing each task, optionally writing the board and the task to Redis in one transaction.</summary>
    private static Func<Task> InProcessSubmit(int agents, IDatabase? db)
    {
        var board = new TeamBoard
        {
            Id = "bench",
            Name = "bench",
            Strategy = Strategies.LeastLoaded,
            Members = Enumerable.Range(0, agents).Select(i => new Member { AgentId = $"a{i}", MaxConcurrentTasks = 100_000 }).ToList(),
        };
        var scheduler = new TeamScheduler(Strategies.For(board.Strategy));
        var gate = new SemaphoreSlim(1, 1);
        return async () =>
        {
            await gate.WaitAsync();
            try
            {
                var ledger = new TaskLedger((_, _) => ValueTask.FromResult<TaskRecord?>(null));
                var sequence = ++board.TaskSequence;
                var task = new TaskRecord { Id = $"bench-{sequence}", TeamId = board.Id, Sequence = sequence, Description = "bench", CreatedAt = DateTimeOffset.UtcNow };
                await scheduler.SubmitAsync(board, ledger, task, DateTimeOffset.UtcNow, CancellationToken.None);
                // A finished task leaves its agent at once, as completions would, so the board stays the size it has in the service.
                board.Member(task.AgentId!)!.Open.Clear();
                if (db is not null)
                {
                    await db.StringSetAsync(
                    [
                        new KeyValuePair<RedisKey, RedisValue>("bench-board", JsonSerializer.SerializeToUtf8Bytes(board)),
                        new KeyValuePair<RedisKey, RedisValue>("bench-task:" + task.Id, JsonSerializer.SerializeToUtf8Bytes(task)),
                    ]);
                }
            }
            finally
            {
                gate.Release();
            }
        };
    }

    /// <summary>A round in memory: ten votes cast and counted, closed with its outcome; with Redis, the round is
    /// written after each vote and at the close, as a durable round must be.</summary>
    private static async Task InProcessRound(IDatabase? db)
    {
        var now = DateTimeOffset.UtcNow;
        var round = new ConsensusRound
        {
            Id = Guid.NewGuid().ToString("N"),
            TeamId = "bench",
            Proposal = "go?",
            Options = ["approve", "reject"],
            Mode = ConsensusModes.Majority,
            Voters = Enumerable.Range(0, Voters).Select(i => new Voter($"a{i}", "external", 1)).ToList(),
            DeadlineAt = now.AddMinutes(1),
        };
        foreach (var voter in round.Voters)
        {
            if (round.Cast(new Vote(voter.AgentId, "approve", "fine", 1, now, "external")) != VoteOutcome.Recorded || round.Evaluate(false).Settled)
            {
                break;
            }
            if (db is not null)
            {
                await db.StringSetAsync("bench-round:" + round.Id, JsonSerializer.SerializeToUtf8Bytes(round));
            }
        }
        round.Close(now);
        if (db is not null)
        {
            await db.StringSetAsync("bench-round:" + round.Id, JsonSerializer.SerializeToUtf8Bytes(round));
        }
    }

    private static async Task<(Samples Samples, double Throughput)> Sequential(int count, Func<Task> op)
    {
        var samples = new Samples();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await op();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return (samples, count / clock.Elapsed.TotalSeconds);
    }

    private static Task WaitUntilServing(HttpClient gateway) => BenchComponents.WaitUntilServing("the coordination and agents services",
        async () => await BenchComponents.Answers(gateway, "/api/v1/teams") && await BenchComponents.Answers(gateway, "/api/v1/agents?limit=1"), TimeSpan.FromMinutes(2));

    private static void Ensure(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {response.Content.ReadAsStringAsync().Result}");
        }
    }
}
