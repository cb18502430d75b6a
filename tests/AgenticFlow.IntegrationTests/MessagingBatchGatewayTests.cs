using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>The batch forms through the gateway: the single forms' policies, and the service's own identity checks.</summary>
public sealed class MessagingBatchGatewayTests
{
    private const string AgentA1 = "dev-agent-a1-key", AgentA2 = "dev-agent-a2-key", Viewer = "dev-viewer-key";

    private static object Batch(params object[] messages) => new { messages };

    private static object Message(string to, object body, string? from = null) => new { recipient = new { kind = "agent", id = to }, body, from };

    [Fact]
    public async Task AgentsSendAndAckInBatches_AsThemselves_AndOnlyOnTheirOwnQueue()
    {
        await using var gw = await PlatformHarness.StartAsync();
        // On a loaded machine the gateway may still be reading the API keys from the secret store.
        await Eventually.True(async () => (await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1/stats", AgentA1))).IsSuccessStatusCode,
            "the gateway to accept a known API key", 60);

        var viewer = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages/batch", Viewer, Batch(Message("a1", 1))));
        var spoofed = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages/batch", AgentA2, Batch(Message("a1", 1), Message("a1", 2, from: "a1"))));
        Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, spoofed.StatusCode);

        var sent = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages/batch", AgentA2, Batch(Message("a1", 1), Message("a1", 2))));
        Assert.True(sent.StatusCode == HttpStatusCode.OK, $"{sent.StatusCode}: {await sent.Content.ReadAsStringAsync()}\n{gw.Services["messaging"].Output}");
        var received = (await (await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1?max=10", AgentA1)))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal([1, 2], received.Select(m => m.GetProperty("body").GetInt32()));
        Assert.All(received, m => Assert.Equal("a2", m.GetProperty("from").GetString()));
        var items = new { items = received.Select(m => new { id = m.GetProperty("id").GetString(), leaseToken = m.GetProperty("leaseToken").GetString() }).ToList() };

        var othersQueue = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages/queue/a1/ack", AgentA2, items));
        var own = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages/queue/a1/ack", AgentA1, items));

        Assert.Equal(HttpStatusCode.Forbidden, othersQueue.StatusCode);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal([204, 204], (await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().Select(r => r.GetProperty("status").GetInt32()));
    }
}
