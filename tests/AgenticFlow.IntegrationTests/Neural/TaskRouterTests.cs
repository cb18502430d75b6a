using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Neural;

/// <summary>The platform's own model end to end: coordination's completed tasks train the task-router, and a team
/// using the <c>learned</c> strategy then sends tasks to the agent the model predicts.</summary>
public sealed class TaskRouterTests(NeuralPlatform n) : IClassFixture<NeuralPlatform>
{
    private static readonly string[] Billing = ["refund the duplicate payment", "the invoice total is wrong", "charged twice on the card", "explain the extra fee on my bill"];
    private static readonly string[] Bugs = ["the app crashes on startup", "error 500 when saving the file", "the page freezes after login", "the upload button does nothing"];

    [Fact]
    public async Task CompletedTasks_TrainTheTaskRouter_AndTheLearnedStrategyFollowsIt()
    {
        var api = new CoordinationClient(n.Platform);
        var tooFew = await n.SendAsync(HttpMethod.Post, "/api/v1/models/task-router/retrain", NeuralPlatform.Operator);
        Assert.Equal(HttpStatusCode.Conflict, tooFew.StatusCode);

        // Each agent holds its own skill and a shared one: skill-bound tasks can only go to the agent that knows them.
        await api.RegisterAsync("tr-billing", 40, "external", ("billing", 0.9), ("general", 0.5));
        await api.RegisterAsync("tr-bugs", 40, "external", ("bugs", 0.9), ("general", 0.5));
        var teamId = await api.FormAsync(new { name = "routed", members = new[] { "tr-billing", "tr-bugs" }, strategy = "learned" });
        var history = new List<(string Task, string Agent)>();
        for (var i = 0; i < 24; i++)
        {
            var billing = i % 2 == 0;
            var text = (billing ? Billing : Bugs)[i / 2 % 4];
            var (taskId, agent) = await api.SubmitAsync(teamId, new { description = text, requiredCapabilities = new[] { billing ? "billing" : "bugs" } });
            Assert.Equal(billing ? "tr-billing" : "tr-bugs", agent);
            history.Add((taskId, agent!));
        }
        foreach (var agent in new[] { "tr-billing", "tr-bugs" })
        {
            await api.TakeWorkAsync(agent, "task.assigned", atLeast: 12);
        }
        foreach (var (taskId, agent) in history)
        {
            await api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "running", "the agent accepted its task");
            using var reported = await api.ReportAsync(agent, taskId);
            Assert.True(reported.IsSuccessStatusCode, await reported.Content.ReadAsStringAsync());
        }
        foreach (var (taskId, _) in history)
        {
            await api.WaitForTaskAsync(teamId, taskId, t => t.GetProperty("state").GetString() == "completed", "task completed");
        }

        var started = await n.SendAsync(HttpMethod.Post, "/api/v1/models/task-router/retrain", NeuralPlatform.Operator);
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var job = await n.WaitJobAsync((await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString()!);
        Assert.Equal("task-router", job.GetProperty("modelId").GetString());
        await Eventually.True(async () =>
        {
            var model = await (await n.SendAsync(HttpMethod.Get, "/api/v1/models/task-router", NeuralPlatform.Viewer)).Content.ReadFromJsonAsync<JsonElement>();
            return model.GetProperty("traffic").TryGetProperty("active", out var active) && active.ValueKind == JsonValueKind.Number;
        }, "the first task-router version to be deployed", 60);

        // Tasks any member could take: least-loaded alone would alternate between the two; the model sends billing
        // work to the billing agent.
        var placed = new List<string?>();
        for (var i = 0; i < 8; i++)
        {
            placed.Add((await api.SubmitAsync(teamId, new { description = Billing[i % 4] })).AgentId);
        }
        Assert.True(placed.Count(a => a == "tr-billing") >= 7, string.Join(",", placed));
    }
}
