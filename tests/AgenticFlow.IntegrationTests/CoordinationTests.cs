using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>The whole platform once for the coordination tests of this class; each test uses agents of its own.</summary>
public sealed class CoordinationPlatform : IAsyncLifetime
{
    public PlatformHarness Platform { get; private set; } = null!;
    public CoordinationClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" },
            // The test plays its external agents and does not beat their hearts: nobody turns unhealthy here.
            ["agents"] = new() { ["Agents__HeartbeatTimeoutSeconds"] = "86400" },
        });
        Api = new CoordinationClient(Platform);
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}

/// <summary>Teams, tasks and consensus through the gateway, with the real agents, messaging and coordination services.</summary>
public sealed class CoordinationTests(CoordinationPlatform fixture) : IClassFixture<CoordinationPlatform>
{
    private CoordinationClient Api => fixture.Api;

    private static string[] Ids(JsonElement team) => team.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("agentId").GetString()!).Order().ToArray();

    [Fact]
    public async Task TeamFromRequirements_TakesTheMostProficientFreeAgents()
    {
        await Api.RegisterAsync("req-plan-9", capabilities: ("req-plan", 0.9));
        await Api.RegisterAsync("req-plan-6", capabilities: ("req-plan", 0.6));
        await Api.RegisterAsync("req-plan-3", capabilities: ("req-plan", 0.3));
        await Api.RegisterAsync("req-code-8", capabilities: [("req-code", 0.8), ("req-plan", 0.95)]);

        var formed = await Api.JsonAsync(HttpMethod.Post, "/api/v1/teams", new
        {
            name = "planners",
            requirements = new object[] { new { capability = "req-code", count = 1, minProficiency = 0.5 }, new { capability = "req-plan", count = 2, minProficiency = 0.5 } },
            strategy = "capability-match",
        }, HttpStatusCode.Created);
        // The coder is taken for code first, so planning gets the two best of the rest; 0.3 is below the minimum.
        Assert.Equal(["req-code-8", "req-plan-6", "req-plan-9"], Ids(formed));
        var teamId = formed.GetProperty("id").GetString()!;

        var status = await Api.StatusAsync(teamId);
        Assert.All(status.GetProperty("members").EnumerateArray(), m =>
        {
            Assert.Equal("healthy", m.GetProperty("health").GetString());
            Assert.Equal(0, m.GetProperty("load").GetInt32());
        });
        var listed = await Api.JsonAsync(HttpMethod.Get, "/api/v1/teams?status=active", key: CoordinationClient.Viewer);
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), t => t.GetProperty("id").GetString() == teamId);
    }

    [Fact]
    public async Task FormationThatCannotBeSatisfied_IsCompensated_AndLeavesNoAgentReserved()
    {
        await Api.RegisterAsync("comp-1", capabilities: ("comp-write", 0.9));
        await Api.RegisterAsync("comp-2", capabilities: ("comp-write", 0.8));
        await Api.RegisterAsync("comp-taken", capabilities: ("comp-write", 0.7));
        await Api.FormAsync(new { name = "holder", members = new[] { "comp-taken" } });

        // comp-1 is reserved by name, then three writers are needed and only comp-2 is free: the saga undoes comp-1.
        var failed = await Api.JsonAsync(HttpMethod.Post, "/api/v1/teams", new
        {
            name = "too-big",
            members = new[] { "comp-1" },
            requirements = new[] { new { capability = "comp-write", count = 3, minProficiency = 0.5 } },
        }, HttpStatusCode.Conflict);
        Assert.Equal("https://agenticflow.dev/problems/team-formation-failed", failed.GetProperty("type").GetString());
        var failedId = failed.GetProperty("teamId").GetString()!;
        var record = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{failedId}");
        Assert.Equal("failed", record.GetProperty("status").GetString());
        Assert.Contains("comp-write", record.GetProperty("failureReason").GetString());
        Assert.Empty(Ids(record));

        // Named members where one belongs to another team: the ones reserved before it are released too.
        var conflict = await Api.JsonAsync(HttpMethod.Post, "/api/v1/teams", new { name = "clash", members = new[] { "comp-2", "comp-taken" } }, HttpStatusCode.Conflict);
        Assert.Contains("comp-taken", conflict.GetProperty("detail").GetString());

        // Nothing stayed reserved: both free agents form a team at once.
        var formed = await Api.JsonAsync(HttpMethod.Post, "/api/v1/teams", new { name = "after", members = new[] { "comp-1", "comp-2" } }, HttpStatusCode.Created);
        Assert.Equal(["comp-1", "comp-2"], Ids(formed));
    }

    [Theory]
    [InlineData("round-robin")]
    [InlineData("least-loaded")]
    [InlineData("capability-match")]
    [InlineData("consistent-hash")]
    public async Task EachStrategy_SpreadsTasksThroughTheGateway_AsPromised(string strategy)
    {
        var prefix = "e2e-" + strategy[..5];
        var agents = Enumerable.Range(1, 5).Select(i => $"{prefix}-{i}").ToArray();
        for (var i = 0; i < agents.Length; i++)
        {
            await Api.RegisterAsync(agents[i], maxConcurrentTasks: strategy == "capability-match" ? 40 : 100, capabilities: (prefix + "-skill", 0.5 + i * 0.1));
        }
        var teamId = await Api.FormAsync(new { name = prefix, members = agents, strategy });
        var placed = new List<(string Task, string? Agent, string Key)>();
        for (var i = 0; i < 100; i++)
        {
            var key = $"customer-{i % 10}";
            var (task, agent) = await Api.SubmitAsync(teamId, new { description = $"task {i}", input = new { i }, requiredCapabilities = new[] { prefix + "-skill" }, affinityKey = key });
            placed.Add((task, agent, key));
        }
        var counts = agents.ToDictionary(a => a, a => placed.Count(p => p.Agent == a));
        switch (strategy)
        {
            case "round-robin":
            case "least-loaded":
                Assert.All(counts.Values, c => Assert.Equal(20, c));
                break;
            case "capability-match":
                // The most proficient agents fill up first, each to its maximum of 40.
                Assert.Equal([0, 0, 20, 40, 40], agents.Select(a => counts[a]));
                break;
            default:
                Assert.All(placed.GroupBy(p => p.Key), g => Assert.Single(g.Select(p => p.Agent).Distinct()));
                break;
        }
        var status = await Api.StatusAsync(teamId);
        Assert.Equal(100, status.GetProperty("members").EnumerateArray().Sum(m => m.GetProperty("load").GetInt32()));
        Assert.All(status.GetProperty("members").EnumerateArray(), m => Assert.True(m.GetProperty("load").GetInt32() <= m.GetProperty("maxConcurrentTasks").GetInt32()));
        // The tasks reached the external agents' queues.
        var busiest = counts.MaxBy(c => c.Value).Key;
        var received = await Api.TakeWorkAsync(busiest, "task.assigned", counts[busiest]);
        Assert.Equal(placed.Where(p => p.Agent == busiest).Select(p => p.Task).Order(), received.Select(r => r.GetProperty("taskId").GetString()!).Distinct().Order());
    }

    [Fact]
    public async Task ExternalAgent_TakesItsTaskFromItsQueue_AndCompletesItOnce()
    {
        await Api.RegisterAsync("ext-1");
        var teamId = await Api.FormAsync(new { name = "ext", members = new[] { "ext-1" } });
        var (taskId, agentId) = await Api.SubmitAsync(teamId, new { description = "write the summary", input = new { doc = 7 }, priority = "high" });
        Assert.Equal("ext-1", agentId);
        var work = Assert.Single(await Api.TakeWorkAsync("ext-1", "task.assigned"));
        Assert.Equal(taskId, work.GetProperty("taskId").GetString());
        Assert.Equal(7, work.GetProperty("input").GetProperty("doc").GetInt32());
        await Api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "running", "task running once the agent accepted it");

        using (var first = await Api.ReportAsync("ext-1", taskId, output: new { summary = "short" }))
        {
            Assert.True(first.IsSuccessStatusCode, await first.Content.ReadAsStringAsync());
        }
        var done = await Api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "completed", "task completed");
        Assert.Equal("short", done.GetProperty("output").GetProperty("summary").GetString());
        using (var again = await Api.ReportAsync("ext-1", taskId, output: new { summary = "a second answer" }))
        {
            Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());
        }
        var still = await Api.TaskAsync(teamId, taskId);
        Assert.Equal("short", still.GetProperty("output").GetProperty("summary").GetString());
        Assert.Single(still.GetProperty("history").EnumerateArray(), h => h.GetProperty("state").GetString() == "completed");
        var status = await Api.StatusAsync(teamId);
        Assert.Equal(1, status.GetProperty("tasks").GetProperty("completed").GetInt32());
        Assert.Equal(1, status.GetProperty("latency").GetProperty("samples").GetInt32());
        Assert.Equal(1, status.GetProperty("throughput").GetProperty("completedLastMinute").GetInt32());

        var list = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks?state=completed", key: CoordinationClient.Viewer);
        Assert.Equal(taskId, Assert.Single(list.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task LlmAgent_RunsItsTaskThroughProviders_AndVotesWithAReason()
    {
        await Api.RegisterAsync("llm-1", kind: "llm", capabilities: ("llm-write", 0.9));
        await Api.RegisterAsync("llm-ext-1");
        await Api.RegisterAsync("llm-ext-2");
        var teamId = await Api.FormAsync(new { name = "mixed", members = new[] { "llm-1", "llm-ext-1", "llm-ext-2" }, strategy = "capability-match" });

        // Only the llm agent holds the capability: it runs the task on the built-in local provider.
        var (taskId, agentId) = await Api.SubmitAsync(teamId, new { description = "Write one line about the sea", input = new { tone = "calm" }, requiredCapabilities = new[] { "llm-write" } });
        Assert.Equal("llm-1", agentId);
        var done = await Api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() is "completed" or "failed", "the llm agent's task finished", 120);
        Assert.Equal("completed", done.GetProperty("state").GetString());
        Assert.NotEqual(JsonValueKind.Null, done.GetProperty("output").ValueKind);

        // The llm agent's vote comes from its model through the agents service, with a reason.
        var roundId = (await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "Is the sea calm?", mode = "quorum", quorum = 3, deadlineSeconds = 120 }, HttpStatusCode.Accepted)).GetProperty("roundId").GetString()!;
        foreach (var agent in new[] { "llm-ext-1", "llm-ext-2" })
        {
            using var vote = await Api.VoteAsync(roundId, agent, "approve");
            Assert.True(vote.IsSuccessStatusCode, await vote.Content.ReadAsStringAsync());
        }
        var round = await Api.WaitForRoundAsync(roundId, 120);
        var llmVote = Assert.Single(round.GetProperty("votes").EnumerateArray(), v => v.GetProperty("agentId").GetString() == "llm-1");
        Assert.Equal("llm", llmVote.GetProperty("source").GetString());
        Assert.False(string.IsNullOrWhiteSpace(llmVote.GetProperty("reason").GetString()));
        Assert.Equal(3, round.GetProperty("votes").GetArrayLength());
        Assert.Equal(("accepted", "approve"), (round.GetProperty("outcome").GetString(), round.GetProperty("decision").GetString()));
    }

    [Fact]
    public async Task TeamBroadcast_ThroughMessaging_ReachesEveryMember()
    {
        await Api.RegisterAsync("bc-1");
        await Api.RegisterAsync("bc-2");
        var teamId = await Api.FormAsync(new { name = "broadcast", members = new[] { "bc-1", "bc-2" } });
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "team", id = teamId }, body = new { type = "team.notice", text = "standup" } }, HttpStatusCode.Accepted);
        foreach (var member in new[] { "bc-1", "bc-2" })
        {
            Assert.Equal("standup", Assert.Single(await Api.TakeWorkAsync(member, "team.notice")).GetProperty("text").GetString());
        }
        // An agent reads only its own team's tasks, and addresses only its own team: a1 is no member of this one.
        await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks", expected: HttpStatusCode.Forbidden, key: "dev-agent-a1-key");
        var outsider = await Api.JsonAsync(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "team", id = teamId }, body = "x" }, HttpStatusCode.Forbidden, key: "dev-agent-a1-key");
        Assert.Equal("https://agenticflow.dev/problems/forbidden", outsider.GetProperty("type").GetString());
        var unknown = await Api.JsonAsync(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "team", id = "no-such-team" }, body = "x" }, HttpStatusCode.NotFound);
        Assert.Equal("https://agenticflow.dev/problems/unknown-team", unknown.GetProperty("type").GetString());
    }

    [Fact]
    public async Task AFailedTask_ComesBackToItsOnlyExternalAgent_AsANewAttempt_AndALateRepeatOfTheFailureChangesNothing()
    {
        await Api.RegisterAsync("solo-1");
        var teamId = await Api.FormAsync(new { name = "solo", members = new[] { "solo-1" } });
        var (taskId, _) = await Api.SubmitAsync(teamId);
        var first = Assert.Single(await Api.TakeWorkAsync("solo-1", "task.assigned"));
        Assert.Equal(1, first.GetProperty("attempt").GetInt32());

        using (var failed = await Api.SendAsync(HttpMethod.Post, $"/api/v1/agents/solo-1/tasks/{taskId}/result", new { status = "failed", error = "out of paper" }))
        {
            Assert.True(failed.IsSuccessStatusCode, await failed.Content.ReadAsStringAsync());
        }
        // Nobody else can take it: the same agent finds attempt 2 in its queue (not swallowed as a repeat of attempt 1).
        var second = Assert.Single(await Api.TakeWorkAsync("solo-1", "task.assigned"));
        Assert.Equal((taskId, 2), (second.GetProperty("taskId").GetString(), second.GetProperty("attempt").GetInt32()));

        // A repeat of the first failure, as the agents service's retry would send it, names attempt 1: no effect.
        using (var sidecar = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.Platform.GatewaySidecar.HttpPort}") })
        {
            sidecar.DefaultRequestHeaders.Add("dapr-api-token", fixture.Platform.DaprToken);
            using var late = await sidecar.PostAsJsonAsync($"/v1.0/invoke/coordination/method/internal/tasks/{taskId}/result",
                new { agentId = "solo-1", status = "failed", error = "late repeat", attempt = 1 });
            Assert.True(late.IsSuccessStatusCode, await late.Content.ReadAsStringAsync());
        }
        var open = await Api.TaskAsync(teamId, taskId);
        Assert.Contains(open.GetProperty("state").GetString(), new[] { "assigned", "running" });
        Assert.Equal(2, open.GetProperty("attempts").GetInt32());

        using (var done = await Api.ReportAsync("solo-1", taskId, output: new { summary = "second time lucky" }))
        {
            Assert.True(done.IsSuccessStatusCode, await done.Content.ReadAsStringAsync());
        }
        var finished = await Api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "completed", "the second attempt completed");
        Assert.Equal("second time lucky", finished.GetProperty("output").GetProperty("summary").GetString());
    }

    [Fact]
    public async Task ASubmissionRepeatedWithItsIdempotencyKey_CreatesOneTask_EvenWhenTheRepeatsRace()
    {
        await Api.RegisterAsync("idem-1", maxConcurrentTasks: 20);
        var teamId = await Api.FormAsync(new { name = "idempotent", members = new[] { "idem-1" } });
        async Task<(string TaskId, bool Replayed)> SubmitAsync(string key, string apiKey = CoordinationClient.Operator)
        {
            using var request = fixture.Platform.Request(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", apiKey, new { description = "charge the card once" });
            request.Headers.Add("Idempotency-Key", key);
            using var response = await fixture.Platform.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
            return (JsonDocument.Parse(text).RootElement.GetProperty("taskId").GetString()!, response.Headers.Contains("Idempotent-Replayed"));
        }

        var racing = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => SubmitAsync("order-42")));
        var again = await SubmitAsync("order-42");
        var other = await SubmitAsync("order-43");
        var otherCaller = await SubmitAsync("order-42", CoordinationClient.Admin);

        Assert.Single(racing.Select(r => r.TaskId).Append(again.TaskId).Distinct());
        Assert.Equal(5, racing.Count(r => r.Replayed));
        Assert.True(again.Replayed);
        Assert.NotEqual(again.TaskId, other.TaskId);
        Assert.NotEqual(again.TaskId, otherCaller.TaskId);
        var tasks = await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks");
        Assert.Equal(3, tasks.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task MembersChange_AndDisband_FreeTheAgents()
    {
        await Api.RegisterAsync("mc-1");
        await Api.RegisterAsync("mc-2");
        await Api.RegisterAsync("mc-3");
        var teamId = await Api.FormAsync(new { name = "changing", members = new[] { "mc-1", "mc-2" }, strategy = "round-robin" });
        var (taskId, agentId) = await Api.SubmitAsync(teamId);
        var changed = await Api.JsonAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/members", new { add = new[] { "mc-3" }, remove = new[] { agentId } });
        Assert.DoesNotContain(agentId, Ids(changed));
        Assert.Contains("mc-3", Ids(changed));
        // The removed member's task went to a remaining one.
        var moved = await Api.TaskAsync(teamId, taskId);
        Assert.NotEqual(agentId, moved.GetProperty("agentId").GetString());

        using (var disband = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{teamId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, disband.StatusCode);
        }
        Assert.Equal("disbanded", (await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}")).GetProperty("status").GetString());
        Assert.Equal("failed", (await Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString());
        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", new { description = "late" }, HttpStatusCode.Conflict);
        // Every member is free again.
        await Api.FormAsync(new { name = "again", members = new[] { "mc-1", "mc-2", "mc-3" } });
    }

    [Theory]
    [InlineData("majority", new[] { "reject", "approve", "approve", "approve" }, "accepted", "approve")]
    [InlineData("unanimous", new[] { "approve", "reject" }, "rejected", null)]
    [InlineData("quorum", new[] { "reject", "approve", "reject", "reject" }, "accepted", "reject")]
    [InlineData("weighted", new[] { "reject" }, "accepted", "reject")]
    public async Task ConsensusRound_InEachMode_ReachesItsOutcome_WithEveryVoteAndReason(string mode, string[] votes, string outcome, string? decision)
    {
        var agents = Enumerable.Range(1, 4).Select(i => $"vote-{mode[..4]}-{i}").ToArray();
        foreach (var agent in agents)
        {
            await Api.RegisterAsync(agent);
        }
        var teamId = await Api.FormAsync(new { name = "voters-" + mode, members = agents });
        var started = await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus", new
        {
            teamId,
            proposal = "ship release 2.0?",
            options = new[] { "approve", "reject" },
            mode,
            quorum = mode == "quorum" ? 3 : (int?)null,
            deadlineSeconds = 120,
            // In weighted mode the first voter outweighs the other three together.
            weights = mode == "weighted" ? new Dictionary<string, double> { [agents[0]] = 5 } : null,
        }, HttpStatusCode.Accepted);
        var roundId = started.GetProperty("roundId").GetString()!;
        // Every external member got a vote request in its queue.
        var request = Assert.Single(await Api.TakeWorkAsync(agents[1], "vote.requested"));
        Assert.Equal(roundId, request.GetProperty("roundId").GetString());

        for (var i = 0; i < votes.Length; i++)
        {
            using var vote = await Api.VoteAsync(roundId, agents[i], votes[i]);
            Assert.True(vote.IsSuccessStatusCode, await vote.Content.ReadAsStringAsync());
        }
        var round = await Api.WaitForRoundAsync(roundId);
        Assert.Equal(outcome, round.GetProperty("outcome").GetString());
        Assert.Equal(decision, round.GetProperty("decision").ValueKind == JsonValueKind.Null ? null : round.GetProperty("decision").GetString());
        Assert.Equal(votes.Length, round.GetProperty("votes").GetArrayLength());
        Assert.All(round.GetProperty("votes").EnumerateArray(), v => Assert.EndsWith(v.GetProperty("choice").GetString()!, v.GetProperty("reason").GetString()));
        // Closed long before its deadline: no vote changes it any more.
        using var late = await Api.VoteAsync(roundId, agents[3], "approve");
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.True(round.GetProperty("closedAt").GetDateTimeOffset() < round.GetProperty("deadline").GetDateTimeOffset().AddSeconds(-60));
    }

    [Fact]
    public async Task ConsensusRound_AtTheDeadline_WithMissingVotes_EndsWithoutQuorum_AndEachAgentVotesOnce()
    {
        await Api.RegisterAsync("a1");
        await Api.RegisterAsync("a2");
        await Api.RegisterAsync("dl-3");
        var teamId = await Api.FormAsync(new { name = "deadline", members = new[] { "a1", "a2", "dl-3" } });
        // A member may address its own team, and read its tasks.
        await Api.JsonAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks", key: "dev-agent-a1-key");
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "team", id = teamId }, body = "hello team" }, HttpStatusCode.Accepted, key: "dev-agent-a1-key");
        var started = await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "rename the project?", mode = "majority", deadlineSeconds = 3 }, HttpStatusCode.Accepted);
        var roundId = started.GetProperty("roundId").GetString()!;
        // An agent of the team may start a round, but not with weights or a quorum that would let it carry the vote.
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "me alone?", mode = "weighted", weights = new Dictionary<string, double> { ["a1"] = 1000 }, deadlineSeconds = 60 }, HttpStatusCode.Forbidden, key: "dev-agent-a1-key");
        await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "me alone?", mode = "quorum", quorum = 1, deadlineSeconds = 60 }, HttpStatusCode.Forbidden, key: "dev-agent-a1-key");
        // An agent votes as itself only, and once.
        using (var asOther = await Api.VoteAsync(roundId, "a2", "approve", key: "dev-agent-a1-key"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, asOther.StatusCode);
        }
        using (var own = await Api.VoteAsync(roundId, "a1", "approve", key: "dev-agent-a1-key"))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }
        using (var twice = await Api.VoteAsync(roundId, "a1", "reject", key: "dev-agent-a1-key"))
        {
            Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        }
        using (var viewer = await Api.VoteAsync(roundId, "a2", "approve", key: CoordinationClient.Viewer))
        {
            Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);
        }
        var round = await Api.WaitForRoundAsync(roundId);
        Assert.Equal("no-quorum", round.GetProperty("outcome").GetString());
        var vote = Assert.Single(round.GetProperty("votes").EnumerateArray());
        Assert.Equal(("a1", "approve", "a1 thinks approve"), (vote.GetProperty("agentId").GetString(), vote.GetProperty("choice").GetString(), vote.GetProperty("reason").GetString()));
        using var afterDeadline = await Api.VoteAsync(roundId, "a2", "approve", key: "dev-agent-a2-key");
        Assert.Equal(HttpStatusCode.Conflict, afterDeadline.StatusCode);
    }

    [Fact]
    public async Task BadInput_AnswersProblemDetails_AndStoresNothing()
    {
        await Api.RegisterAsync("bad-1");
        var teamId = await Api.FormAsync(new { name = "bad", members = new[] { "bad-1" } });
        var teamsBefore = (await Api.JsonAsync(HttpMethod.Get, "/api/v1/teams")).GetProperty("items").GetArrayLength();

        async Task Expect(HttpMethod method, string path, object? body, HttpStatusCode status, string? field = null, string? key = null)
        {
            using var response = await Api.SendAsync(method, path, body, key);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{method} {path} {JsonSerializer.Serialize(body)}: expected {(int)status}, got {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            if (field is not null)
            {
                Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"{field} in {text}");
            }
        }

        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "" , members = new[] { "bad-1" } }, HttpStatusCode.BadRequest, "name");
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x" }, HttpStatusCode.BadRequest, "members");
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x", members = new[] { "bad-1" }, strategy = "random" }, HttpStatusCode.BadRequest, "strategy");
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x", requirements = new[] { new { capability = "c", count = 0 } } }, HttpStatusCode.BadRequest, "requirements[0].count");
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x", members = new[] { "bad-1", "bad-1" } }, HttpStatusCode.BadRequest, "members");
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x", members = new[] { "bad-1" } }, HttpStatusCode.Forbidden, key: CoordinationClient.Viewer);
        await Expect(HttpMethod.Post, "/api/v1/teams", new { name = "x", members = new[] { "bad-1" } }, HttpStatusCode.Forbidden, key: "dev-agent-a1-key");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", new { input = 1 }, HttpStatusCode.BadRequest, "description");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", new { description = "d", priority = "urgent" }, HttpStatusCode.BadRequest, "priority");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", new { description = "d", deadline = "2001-01-01T00:00:00Z" }, HttpStatusCode.BadRequest, "deadline");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/tasks", new { description = "d", requiredCapabilities = new[] { "" } }, HttpStatusCode.BadRequest, "requiredCapabilities");
        await Expect(HttpMethod.Post, "/api/v1/teams/no-such-team/tasks", new { description = "d" }, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks/{teamId}-999", null, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Get, $"/api/v1/teams/{teamId}/tasks?limit=0", null, HttpStatusCode.BadRequest, "limit");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/members", new { }, HttpStatusCode.BadRequest, "add");
        await Expect(HttpMethod.Post, $"/api/v1/teams/{teamId}/members", new { add = new[] { "not-registered" } }, HttpStatusCode.Conflict);
        await Expect(HttpMethod.Delete, "/api/v1/teams/no-such-team", null, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId, proposal = "p", mode = "plurality", deadlineSeconds = 5 }, HttpStatusCode.BadRequest, "mode");
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId, proposal = "p", mode = "majority", deadlineSeconds = 0 }, HttpStatusCode.BadRequest, "deadlineSeconds");
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId, proposal = "p", mode = "majority", options = new[] { "a", "a" }, deadlineSeconds = 5 }, HttpStatusCode.BadRequest, "options");
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId, proposal = "p", mode = "majority", quorum = 2, deadlineSeconds = 5 }, HttpStatusCode.BadRequest, "quorum");
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId = "no-such-team", proposal = "p", mode = "majority", deadlineSeconds = 5 }, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Get, "/api/v1/coordination/consensus/no-such-round", null, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus/no-such-round/votes", new { agentId = "bad-1", choice = "approve" }, HttpStatusCode.NotFound);
        await Expect(HttpMethod.Post, "/api/v1/coordination/consensus/no-such-round/votes", new { agentId = "bad-1" }, HttpStatusCode.BadRequest, "choice");

        var started = await Api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus", new { teamId, proposal = "p", mode = "majority", deadlineSeconds = 60 }, HttpStatusCode.Accepted);
        var roundId = started.GetProperty("roundId").GetString();
        await Expect(HttpMethod.Post, $"/api/v1/coordination/consensus/{roundId}/votes", new { agentId = "bad-1", choice = "maybe" }, HttpStatusCode.BadRequest, "choice");
        await Expect(HttpMethod.Post, $"/api/v1/coordination/consensus/{roundId}/votes", new { agentId = "stranger", choice = "approve" }, HttpStatusCode.Conflict);
        Assert.Empty((await Api.RoundAsync(roundId!)).GetProperty("votes").EnumerateArray());

        // Internal routes are not reachable from outside.
        await Expect(HttpMethod.Post, $"/internal/tasks/{teamId}-1/result", new { agentId = "bad-1", status = "completed" }, HttpStatusCode.NotFound);

        Assert.Equal(teamsBefore, (await Api.JsonAsync(HttpMethod.Get, "/api/v1/teams")).GetProperty("items").GetArrayLength());
        var status = await Api.StatusAsync(teamId);
        Assert.Equal(0, status.GetProperty("tasks").GetProperty("pending").GetInt32() + status.GetProperty("members")[0].GetProperty("load").GetInt32());
    }
}
