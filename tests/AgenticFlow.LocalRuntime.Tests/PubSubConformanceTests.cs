using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Dapr.AspNetCore;
using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>Publish and subscribe through the SDK and raw HTTP, against both pub/sub types.</summary>
public sealed class PubSubConformanceTests
{
    public static TheoryData<string> Brokers => new() { "in-memory", "redis" };

    public sealed record Ping(string Id, int N);

    [Theory, MemberData(nameof(Brokers))]
    public async Task Publish_DeliversACloudEventToTheSubscribedRoute(string broker)
    {
        var topic = TestServers.NewId("orders");
        var received = new ConcurrentQueue<Ping>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/orders", (Ping p) => { received.Enqueue(p); return Results.Ok(); }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub(broker);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("a", 1));

        await Eventually.True(() => received.Count == 1, "the event to arrive");
        Assert.Equal(new Ping("a", 1), received.Single());
        var envelope = JsonDocument.Parse(app.Requests.First(r => r.Path == "/orders").Body).RootElement;
        Assert.Equal("1.0", envelope.GetProperty("specversion").GetString());
        Assert.Equal(topic, envelope.GetProperty("topic").GetString());
        Assert.Equal("pubsub", envelope.GetProperty("pubsubname").GetString());
        Assert.Equal("com.dapr.event.sent", envelope.GetProperty("type").GetString());
        Assert.Equal("application/json", envelope.GetProperty("datacontenttype").GetString());
        // traceparent: only when the publish carried a trace context (see TracingTests).
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task RetryStatusAnd500_AreRedelivered_UntilSuccess(string broker)
    {
        var topic = TestServers.NewId("flaky");
        var attempts = 0;
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/flaky", () => Interlocked.Increment(ref attempts) switch
            {
                1 => Results.Json(new { status = "RETRY" }),
                2 => Results.StatusCode(500),
                _ => Results.Json(new { status = "SUCCESS" }),
            }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub(broker).FastRetries(maxRetries: 5);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("r", 1));

        await Eventually.True(() => Volatile.Read(ref attempts) >= 3, "the third delivery");
        // A marker after it proves the flaky message was finished with: concurrency is 1.
        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("marker", 2));
        await Eventually.True(() => Volatile.Read(ref attempts) >= 4, "the marker");
        Assert.Equal(4, Volatile.Read(ref attempts));
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task ExhaustedRetries_GoToTheDeadLetterTopic_AndDropAnd404AreNotRetried(string broker)
    {
        var topic = TestServers.NewId("poison");
        var deadLetters = new ConcurrentQueue<Ping>();
        var attempts = new ConcurrentDictionary<string, int>();
        await using var app = await TestApp.StartAsync((web, _) =>
        {
            web.MapPost("/poison", (Ping p) =>
            {
                attempts.AddOrUpdate(p.Id, 1, (_, n) => n + 1);
                return p.Id switch
                {
                    "drop" => Results.Json(new { status = "DROP" }),
                    "missing" => Results.NotFound(),
                    "ok" => Results.Ok(),
                    _ => Results.StatusCode(500),
                };
            }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, DeadLetterTopic = topic + "-dead" });
            web.MapPost("/dead", (Ping p) => { deadLetters.Enqueue(p); return Results.Ok(); }).WithTopic("pubsub", topic + "-dead");
        });
        using var folder = new ComponentsFolder().PubSub(broker).FastRetries(maxRetries: 2);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        foreach (var id in new[] { "bad", "drop", "missing", "ok" })
        {
            await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping(id, 0));
        }

        await Eventually.True(() => deadLetters.Count == 1 && attempts.ContainsKey("ok"), "the dead letter and the last message");
        Assert.Equal("bad", deadLetters.Single().Id);
        Assert.Equal(3, attempts["bad"]);
        Assert.Equal(1, attempts["drop"]);
        Assert.Equal(1, attempts["missing"]);
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task RawPayload_ArrivesAsTheExactBytesPublished(string broker)
    {
        var topic = TestServers.NewId("raw");
        var bodies = new ConcurrentQueue<string>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/raw", async (HttpRequest r) =>
            {
                using var reader = new StreamReader(r.Body);
                bodies.Enqueue(await reader.ReadToEndAsync());
                return Results.Ok();
            }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, EnableRawPayload = true }));
        using var folder = new ComponentsFolder().PubSub(broker);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        var response = await sidecar.Http.PostAsync($"/v1.0/publish/pubsub/{topic}?metadata.rawPayload=true", new StringContent("plain <bytes> & more", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Eventually.True(() => bodies.Count == 1, "the raw payload");
        Assert.Equal("plain <bytes> & more", bodies.Single());
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task RoutingRules_SendEventsToThePathTheirMatchSelects(string broker)
    {
        var topic = TestServers.NewId("routed");
        var seen = new ConcurrentQueue<(string Route, string Id)>();
        await using var app = await TestApp.StartAsync((web, _) =>
        {
            web.MapPost("/big", (Ping p) => { seen.Enqueue(("big", p.Id)); return Results.Ok(); }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, Match = "event.data.n > 100", Priority = 1 });
            web.MapPost("/typed", (Ping p) => { seen.Enqueue(("typed", p.Id)); return Results.Ok(); }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, Match = "event.type == \"special\"", Priority = 2 });
            web.MapPost("/other", (Ping p) => { seen.Enqueue(("other", p.Id)); return Results.Ok(); }).WithTopic("pubsub", topic);
        });
        using var folder = new ComponentsFolder().PubSub(broker);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("large", 500));
        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("special", 1), new Dictionary<string, string> { ["cloudevent.type"] = "special" });
        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("plain", 1));

        await Eventually.True(() => seen.Count == 3, "three routed events");
        Assert.Equal(new[] { ("big", "large"), ("other", "plain"), ("typed", "special") }, seen.OrderBy(s => s.Route).ToArray());
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task BulkPublish_AndBulkSubscribe_MoveBatches(string broker)
    {
        var topic = TestServers.NewId("bulk");
        var batches = new ConcurrentQueue<int>();
        var ids = new ConcurrentBag<string>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/bulk", (BulkSubscribeMessage<Ping> message) =>
            {
                batches.Enqueue(message.Entries.Count);
                foreach (var entry in message.Entries)
                {
                    ids.Add(entry.Event.Id);
                }
                return Results.Ok(new BulkSubscribeAppResponse(message.Entries.Select(e => new BulkSubscribeAppResponseEntry(e.EntryId, BulkSubscribeAppResponseStatus.SUCCESS)).ToList()));
            }).WithTopic("pubsub", topic).WithBulkSubscribe(new BulkSubscribeTopicOptions { TopicName = topic, MaxMessagesCount = 10, MaxAwaitDurationMs = 200 }));
        using var folder = new ComponentsFolder().PubSub(broker, extraMetadata: "  - name: concurrency\n    value: \"20\"\n");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sub"), folder.Path, app.Port);

        var response = await sidecar.Client.BulkPublishEventAsync("pubsub", topic, Enumerable.Range(0, 20).Select(i => new Ping("b" + i, i)).ToList());

        Assert.Empty(response.FailedEntries);
        await Eventually.True(() => ids.Count == 20, "all 20 bulk entries");
        Assert.Equal(20, ids.Distinct().Count());
        Assert.True(batches.Any(b => b > 1), $"batches were {string.Join(",", batches)}");
    }

    [Theory, MemberData(nameof(Brokers))]
    public async Task SameAppReplicasCompete_WhileOtherAppsEachGetEveryMessage(string broker)
    {
        var topic = TestServers.NewId("fan");
        var workerSeen = new ConcurrentBag<(int Replica, string Id)>();
        var auditSeen = new ConcurrentBag<string>();
        await using var shared = new SharedResources();
        using var folder = new ComponentsFolder().PubSub(broker, extraMetadata: "  - name: concurrency\n    value: \"4\"\n");
        var workerId = TestServers.NewId("worker");
        var auditId = TestServers.NewId("audit");
        await using var w0 = await TestApp.StartAsync((web, _) => web.MapPost("/w", (Ping p) => { workerSeen.Add((0, p.Id)); return Results.Ok(); }).WithTopic("pubsub", topic));
        await using var w1 = await TestApp.StartAsync((web, _) => web.MapPost("/w", (Ping p) => { workerSeen.Add((1, p.Id)); return Results.Ok(); }).WithTopic("pubsub", topic));
        await using var audit = await TestApp.StartAsync((web, _) => web.MapPost("/a", (Ping p) => { auditSeen.Add(p.Id); return Results.Ok(); }).WithTopic("pubsub", topic));
        await using var s0 = await TestSidecar.StartAsync(workerId, folder.Path, w0.Port, shared: shared, instanceId: "0");
        await using var s1 = await TestSidecar.StartAsync(workerId, folder.Path, w1.Port, shared: shared, instanceId: "1");
        await using var s2 = await TestSidecar.StartAsync(auditId, folder.Path, audit.Port, shared: shared);

        for (var i = 0; i < 40; i++)
        {
            await s2.Client.PublishEventAsync("pubsub", topic, new Ping("m" + i, i));
        }

        await Eventually.True(() => workerSeen.Count >= 40 && auditSeen.Count >= 40, "every message at both apps");
        Assert.Equal(40, workerSeen.Count);
        Assert.Equal(40, workerSeen.Select(w => w.Id).Distinct().Count());
        Assert.Equal(40, auditSeen.Distinct().Count());
    }

    [Fact]
    public async Task DeclarativeSubscription_FromYaml_IsDelivered()
    {
        var topic = TestServers.NewId("declared");
        var received = new ConcurrentQueue<Ping>();
        await using var app = await TestApp.StartAsync((web, _) => web.MapPost("/declared", (Ping p) => { received.Enqueue(p); return Results.Ok(); }));
        var appId = TestServers.NewId("decl");
        using var folder = new ComponentsFolder().PubSub("in-memory").Add("subscription.yaml", $"""
            apiVersion: dapr.io/v2alpha1
            kind: Subscription
            metadata:
              name: declared
            spec:
              pubsubname: pubsub
              topic: {topic}
              routes:
                default: /declared
            scopes:
            - {appId}
            """);
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path, app.Port);

        await sidecar.Client.PublishEventAsync("pubsub", topic, new Ping("d", 4));

        await Eventually.True(() => received.Count == 1, "the event from the declarative subscription");
        var metadata = await sidecar.Http.GetStringAsync("/v1.0/metadata");
        Assert.Contains(topic, metadata);
    }

    [Fact]
    public async Task PublishErrors_UseDaprCodes()
    {
        using var folder = new ComponentsFolder().PubSub("in-memory");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("pub"), folder.Path);

        var unknown = await sidecar.Http.PostAsync("/v1.0/publish/nosuch/topic", new StringContent("{}", Encoding.UTF8, "application/json"));
        var badJson = await sidecar.Http.PostAsync("/v1.0/publish/pubsub/topic", new StringContent("{not json", Encoding.UTF8, "application/json"));
        var badTtl = await sidecar.Http.PostAsync("/v1.0/publish/pubsub/topic?metadata.ttlInSeconds=-4", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("ERR_PUBSUB_NOT_FOUND", await unknown.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("ERR_PUBSUB_CLOUD_EVENTS_SER", await badJson.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, badTtl.StatusCode);
        await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.PublishEventAsync("nosuch", "t", new Ping("x", 1)));
    }
}
