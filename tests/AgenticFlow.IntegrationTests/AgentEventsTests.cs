using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.IntegrationTests;

/// <summary>The agents service's events reach other apps over pub/sub (Redis, so they cross sidecars): an agent's
/// whole life, from registration through missed heartbeats and recovery to removal.</summary>
public sealed class AgentEventsTests
{
    private static readonly string[] Topics = ["agents.registered", "agents.state-changed", "agents.unhealthy", "agents.healthy", "agents.deregistered"];

    [Fact]
    public async Task AnAgentsLife_IsPublished_AsAgentsEvents()
    {
        using var folder = new ComponentsFolder().State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore).PubSub("redis");
        await using var platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["agents"] = new()
            {
                ["Agents__HeartbeatCheckSeconds"] = "0.5",
                ["Agents__HeartbeatTimeoutSeconds"] = "2",
                ["Agents__CoordinationAppId"] = CoordinationStub.AppId,
            },
        }, folder);
        await using var coordination = await CoordinationStub.StartAsync(platform);
        var events = new ConcurrentQueue<(string Topic, JsonElement Data)>();
        await using var watcher = await TestApp.StartAsync((web, _) =>
        {
            foreach (var topic in Topics)
            {
                web.MapPost("/" + topic, async (HttpRequest r) =>
                {
                    events.Enqueue((topic, (await JsonDocument.ParseAsync(r.Body)).RootElement.Clone()));
                    return Results.Ok();
                }).WithTopic("pubsub", topic);
            }
        });
        await using var watcherSidecar = await TestSidecar.StartAsync(TestServers.NewId("watcher"), platform.ComponentsPath, watcher.Port);
        var id = TestServers.NewId("evented");
        IEnumerable<JsonElement> Of(string topic) => events.Where(e => e.Topic == topic && e.Data.GetProperty("agentId").GetString() == id).Select(e => e.Data);
        async Task<HttpResponseMessage> Send(HttpMethod method, string path, object? body = null) =>
            await platform.Client.SendAsync(platform.Request(method, path, "dev-admin-key", body));

        var registered = await Send(HttpMethod.Post, "/api/v1/agents", new { id, name = "Evented", kind = "external", capabilities = new[] { new { name = "observe", proficiency = 0.4 } }, maxConcurrentTasks = 3 });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        await Eventually.True(() => Of("agents.registered").Any(), "agents.registered", 60);
        var first = Of("agents.registered").First();
        Assert.Equal("external", first.GetProperty("kind").GetString());
        Assert.Equal("idle", first.GetProperty("status").GetString());
        Assert.Equal("healthy", first.GetProperty("health").GetString());
        Assert.Equal(3, first.GetProperty("maxConcurrentTasks").GetInt32());
        Assert.Equal("observe", first.GetProperty("capabilities")[0].GetProperty("name").GetString());
        Assert.True(first.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/api/v1/agents/{id}/state", new { status = "busy" })).StatusCode);
        await Eventually.True(() => Of("agents.state-changed").Any(e => e.GetProperty("status").GetString() == "busy"), "agents.state-changed to busy", 60);

        // Silence: unhealthy; a beat: healthy again.
        await Eventually.True(() => Of("agents.unhealthy").Any(), "agents.unhealthy after missed heartbeats", 90);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/api/v1/agents/{id}/heartbeat")).StatusCode);
        await Eventually.True(() => Of("agents.healthy").Any(), "agents.healthy after a beat", 60);
        Assert.Equal("healthy", Of("agents.healthy").First().GetProperty("health").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, $"/api/v1/agents/{id}")).StatusCode);
        await Eventually.True(() => Of("agents.deregistered").Any(), "agents.deregistered", 60);
        // Draining was announced before the removal.
        Assert.Contains(Of("agents.state-changed"), e => e.GetProperty("status").GetString() == "draining");
    }
}
