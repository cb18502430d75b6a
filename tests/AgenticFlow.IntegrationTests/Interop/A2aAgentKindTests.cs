using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>The <c>a2a</c> agent kind: a remote A2A agent registered by its card URL joins a team like any agent, and a
/// task placed on it is sent to it over A2A and completed with its answer.</summary>
[Collection(InteropCollection.Name)]
public sealed class A2aAgentKindTests(InteropPlatform fixture)
{
    [Fact]
    public async Task RemoteA2aAgent_InATeam_ReceivesAndCompletesATask()
    {
        await using var remote = await RemoteA2aAgent.StartAsync();
        var agentId = "remote-" + Guid.NewGuid().ToString("N")[..8];
        var registered = await fixture.Api.JsonAsync(HttpMethod.Post, "/api/v1/agents", new
        {
            id = agentId,
            name = "Remote echo",
            kind = "a2a",
            capabilities = new[] { new { name = "echo", proficiency = 0.8 } },
            a2a = new { cardUrl = remote.CardUrl },
        }, HttpStatusCode.Created);
        Assert.Equal(remote.CardUrl, registered.GetProperty("a2a").GetProperty("cardUrl").GetString());
        var teamId = await fixture.Api.FormAsync(new { name = "echoes", requirements = new[] { new { capability = "echo", count = 1, minProficiency = 0.5 } } });

        var (taskId, assignee) = await fixture.Api.SubmitAsync(teamId, new { description = "Say hello to the other side", input = new { n = 1 } });
        Assert.Equal(agentId, assignee);
        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the remote agent's task to complete", 120);

        var task = await fixture.Api.TaskAsync(teamId, taskId);
        Assert.Equal($"echo: Task {taskId}: Say hello to the other side", task.GetProperty("output").GetProperty("text").GetString());
        var sent = Assert.Single(remote.Messages);
        Assert.Equal(taskId, sent.GetProperty("messageId").GetString());
        Assert.Equal("ROLE_USER", sent.GetProperty("role").GetString());
        Assert.Equal(1, sent.GetProperty("parts")[1].GetProperty("data").GetProperty("n").GetInt32());

        // Bad registrations are refused: no card URL, or llm settings on an a2a agent.
        using var bad = await fixture.Api.SendAsync(HttpMethod.Post, "/api/v1/agents", new { name = "x", kind = "a2a", capabilities = new[] { new { name = "echo", proficiency = 0.5 } } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
