using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>What was acknowledged survives a kill -9 of the runtime process.</summary>
public sealed class DurabilityTests
{
    public static TheoryData<string> DurableStores => new() { "sqlite", "redis", "postgresql" };

    [Theory, MemberData(nameof(DurableStores))]
    public async Task AcknowledgedState_SurvivesKill9OfTheRuntime(string store)
    {
        using var folder = new ComponentsFolder().State(store);
        var appId = TestServers.NewId("durable");
        int httpPort = TestSidecar.FreePort(), grpcPort = TestSidecar.FreePort();

        await using (var first = await RuntimeProcess.StartAsync(appId, folder.Path, null, httpPort, grpcPort))
        {
            for (var i = 0; i < 20; i++)
            {
                var saved = await first.Http.PostAsJsonAsync("/v1.0/state/statestore", new[] { new { key = "k" + i, value = i } });
                Assert.Equal(HttpStatusCode.NoContent, saved.StatusCode);
            }
            await first.KillAsync();
        }

        await using var second = await RuntimeProcess.StartAsync(appId, folder.Path, null, httpPort, grpcPort);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i.ToString(), await second.Http.GetStringAsync("/v1.0/state/statestore/k" + i));
        }
    }

    [Fact]
    public async Task UnackedRedisStreamMessages_AreDeliveredAfterTheRuntimeIsKilledAndRestarted()
    {
        var topic = TestServers.NewId("durable");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new ConcurrentBag<string>();
        var processed = new ConcurrentDictionary<string, bool>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/work", async (Item item) =>
            {
                arrived.Add(item.Id);
                await gate.Task; // the app is stuck until the runtime has been killed
                processed[item.Id] = true;
                return Results.Ok();
            }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub("redis");
        var appId = TestServers.NewId("worker");
        int httpPort = TestSidecar.FreePort(), grpcPort = TestSidecar.FreePort();
        var published = Enumerable.Range(0, 10).Select(i => "m" + i).ToList();

        await using (var first = await RuntimeProcess.StartAsync(appId, folder.Path, app.Port, httpPort, grpcPort))
        {
            foreach (var id in published)
            {
                var response = await first.Http.PostAsJsonAsync($"/v1.0/publish/pubsub/{topic}", new Item(id));
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            }
            await Eventually.True(() => !arrived.IsEmpty, "the first delivery to reach the app");
            await first.KillAsync();
        }
        Assert.Empty(processed);

        gate.SetResult();
        await using var second = await RuntimeProcess.StartAsync(appId, folder.Path, app.Port, httpPort, grpcPort);

        await Eventually.True(() => published.All(processed.ContainsKey), "every published message to be processed after the restart", 60);
    }

    public sealed record Item(string Id);

    [Fact]
    public async Task SigTerm_StopsTheRuntimeProcess()
    {
        using var folder = new ComponentsFolder().State("in-memory");
        await using var runtime = await RuntimeProcess.StartAsync(TestServers.NewId("term"), folder.Path, null, TestSidecar.FreePort(), TestSidecar.FreePort());

        var exited = await runtime.TerminateAsync(TimeSpan.FromSeconds(30));

        Assert.True(exited, "the runtime should exit on SIGTERM");
    }
}
