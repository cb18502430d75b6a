using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>Coordination when parts die: an agent in the middle of a task, and coordination's own sidecar in the middle of a round.</summary>
public sealed class CoordinationChaosTests
{
    [Fact]
    public async Task AgentKilledMidTask_TaskIsReassigned_AndCompletedExactlyOnce()
    {
        await using var platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            // Missed heartbeats show within seconds.
            ["agents"] = new() { ["Agents__HeartbeatTimeoutSeconds"] = "3", ["Agents__HeartbeatCheckSeconds"] = "0.5" },
        });
        var api = new CoordinationClient(platform);
        await api.RegisterAsync("kill-1", maxConcurrentTasks: 2);
        await api.RegisterAsync("kill-2", maxConcurrentTasks: 2);
        // Each external agent's process beats its heart until it is killed.
        var alive = new Dictionary<string, CancellationTokenSource> { ["kill-1"] = new(), ["kill-2"] = new() };
        var beats = alive.Select(a => Task.Run(async () =>
        {
            while (!a.Value.IsCancellationRequested)
            {
                using var _ = await api.SendAsync(HttpMethod.Post, $"/api/v1/agents/{a.Key}/heartbeat", new { });
                try { await Task.Delay(300, a.Value.Token); } catch (OperationCanceledException) { }
            }
        })).ToList();
        try
        {
            var teamId = await api.FormAsync(new { name = "mortal", members = new[] { "kill-1", "kill-2" } });
            var (taskId, first) = await api.SubmitAsync(teamId, new { description = "long job", input = new { size = 3 } });
            Assert.NotNull(first);
            var survivor = first == "kill-1" ? "kill-2" : "kill-1";
            // The first agent takes the task, starts on it, and dies.
            Assert.Equal(taskId, Assert.Single(await api.TakeWorkAsync(first, "task.assigned")).GetProperty("taskId").GetString());
            await api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "running", "task running on the first agent");
            alive[first].Cancel();

            var moved = await api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("agentId").GetString() == survivor, "task reassigned to the survivor", 90);
            Assert.Equal(2, moved.GetProperty("attempts").GetInt32());
            Assert.Equal(taskId, Assert.Single(await api.TakeWorkAsync(survivor, "task.assigned")).GetProperty("taskId").GetString());
            var status = await api.StatusAsync(teamId);
            Assert.Contains(status.GetProperty("members").EnumerateArray(), m => m.GetProperty("agentId").GetString() == first && m.GetProperty("health").GetString() == "unhealthy");

            // The dead agent's late answer does not count; the survivor's does, once.
            using (var late = await api.ReportAsync(first, taskId, output: new { by = first }))
            {
                Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
            }
            using (var done = await api.ReportAsync(survivor, taskId, output: new { by = survivor }))
            {
                Assert.True(done.IsSuccessStatusCode, await done.Content.ReadAsStringAsync());
            }
            var completed = await api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "completed", "task completed");
            using (var again = await api.ReportAsync(survivor, taskId, output: new { by = "second answer" }))
            {
                Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());
            }
            var final = await api.TaskAsync(teamId, taskId);
            Assert.Equal(survivor, final.GetProperty("output").GetProperty("by").GetString());
            Assert.Equal(completed.GetProperty("finishedAt").GetDateTimeOffset(), final.GetProperty("finishedAt").GetDateTimeOffset());
            Assert.Single(final.GetProperty("history").EnumerateArray(), h => h.GetProperty("state").GetString() == "completed");
            Assert.Equal(1, (await api.StatusAsync(teamId)).GetProperty("tasks").GetProperty("completed").GetInt32());
        }
        finally
        {
            foreach (var a in alive.Values)
            {
                a.Cancel();
            }
            await Task.WhenAll(beats);
        }
    }

    [Fact]
    public async Task SidecarKilledMidRound_RoundsFinishAfterItsRestart()
    {
        await using var platform = await PlatformHarness.StartAsync(
            new Dictionary<string, Dictionary<string, string>> { ["agents"] = new() { ["Agents__HeartbeatTimeoutSeconds"] = "86400" } },
            processSidecars: new HashSet<string> { "coordination" });
        var api = new CoordinationClient(platform);
        var agents = new[] { "round-1", "round-2", "round-3" };
        foreach (var agent in agents)
        {
            await api.RegisterAsync(agent);
        }
        var teamId = await api.FormAsync(new { name = "durable", members = agents });
        var voting = (await api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "adopt the plan?", mode = "unanimous", deadlineSeconds = 600 }, HttpStatusCode.Accepted)).GetProperty("roundId").GetString()!;
        var expiringRound = await api.JsonAsync(HttpMethod.Post, "/api/v1/coordination/consensus",
            new { teamId, proposal = "and the budget?", mode = "majority", deadlineSeconds = 8 }, HttpStatusCode.Accepted);
        var expiring = expiringRound.GetProperty("roundId").GetString()!;
        var expiringDeadline = expiringRound.GetProperty("deadline").GetDateTimeOffset();
        using (var vote = await api.VoteAsync(voting, "round-1", "approve"))
        {
            Assert.True(vote.IsSuccessStatusCode, await vote.Content.ReadAsStringAsync());
        }

        await platform.KillSidecarAsync("coordination");
        // The runtime stays down until the expiring round's deadline has passed: its timer must fire after the restart.
        await Eventually.True(() => DateTimeOffset.UtcNow > expiringDeadline.AddSeconds(1), "the expiring round's deadline passed", 60);
        await platform.RestartSidecarAsync("coordination");

        foreach (var agent in agents.Skip(1))
        {
            await Eventually.True(async () =>
            {
                using var vote = await api.VoteAsync(voting, agent, "approve");
                return vote.IsSuccessStatusCode;
            }, $"{agent}'s vote stored after the restart", 60);
        }
        var decided = await api.WaitForRoundAsync(voting, 90);
        Assert.Equal(("accepted", "approve"), (decided.GetProperty("outcome").GetString(), decided.GetProperty("decision").GetString()));
        Assert.Equal(3, decided.GetProperty("votes").GetArrayLength());
        var expired = await api.WaitForRoundAsync(expiring, 90);
        Assert.Equal("no-quorum", expired.GetProperty("outcome").GetString());
    }
}
