using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Client;

namespace AgenticFlow.IntegrationTests;

/// <summary>The messaging service end to end: real process, real sidecar, real stores; with the default mailbox
/// design here, and every test again with the other design in <see cref="DocumentMailboxMessagingTests"/>.</summary>
public class MessagingTests
{
    /// <summary>The <c>Messaging:Mailboxes</c> design under test; null runs the service's default.</summary>
    protected virtual string? Design => null;

    private Dictionary<string, string> Env(Dictionary<string, string>? env = null)
    {
        var all = new Dictionary<string, string>(env ?? []);
        if (Design is { } design)
        {
            all["Messaging__Mailboxes"] = design;
        }
        return all;
    }

    [Fact]
    public async Task Receive_GivesHighestPriorityFirst_AndFifoWithinAPriority_UnderConcurrentProducers()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        string[] priorities = ["low", "normal", "high", "critical"];
        await Task.WhenAll(Enumerable.Range(0, 4).Select(producer => Task.Run(async () =>
        {
            for (var i = 0; i < 12; i++)
            {
                await bus.SendAsync(MessagingHarness.Send("a1", new { producer, seq = i }, priorities[(producer + i) % 4]));
            }
        })));

        var received = new List<JsonElement>();
        while (received.Count < 48)
        {
            var batch = await bus.ReceiveAsync("a1", max: 7);
            Assert.NotEmpty(batch);
            received.AddRange(batch);
        }

        var rank = received.Select(m => Array.IndexOf(priorities, m.GetProperty("priority").GetString())).ToList();
        Assert.Equal(rank.OrderByDescending(r => r), rank);
        foreach (var group in received.GroupBy(m => (m.GetProperty("priority").GetString(), m.GetProperty("body").GetProperty("producer").GetInt32())))
        {
            var seqs = group.Select(m => m.GetProperty("body").GetProperty("seq").GetInt32()).ToList();
            Assert.Equal(seqs.Order(), seqs);
        }
    }

    [Fact]
    public async Task ExpiredLease_RedeliversTheMessage_AndTheOldLeaseCanNoLongerAck()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        await bus.SendAsync(MessagingHarness.Send("a2", new { n = 1 }));

        // Three seconds leave room for the check that the message is held, even on a loaded machine.
        var first = Assert.Single(await bus.ReceiveAsync("a2", leaseSeconds: 3));
        Assert.Empty(await bus.ReceiveAsync("a2"));
        List<JsonElement> again = [];
        await Eventually.True(async () => (again = await bus.ReceiveAsync("a2")).Count == 1, "the lease to expire and the message to come back", 10);

        Assert.Equal(first.GetProperty("id").GetString(), again[0].GetProperty("id").GetString());
        Assert.Equal(2, again[0].GetProperty("deliveryCount").GetInt32());
        Assert.Equal(HttpStatusCode.Conflict, (await bus.AckAsync("a2", first)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await bus.AckAsync("a2", again[0])).StatusCode);
        Assert.Equal(0, await bus.DepthAsync("a2"));
        var stored = await bus.Client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/{first.GetProperty("id").GetString()}");
        Assert.Equal("acked", stored.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ExpiredMessages_InAQueueNobodyReads_AreDeadLettered_AndTheListKeepsTheNewest()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env(new() { ["Messaging__SweepSeconds"] = "1", ["Messaging__MaxDeadLetters"] = "2" }));
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await bus.SendAsync(MessagingHarness.Send("unread", new { n = i }, ttlSeconds: 1)));
        }

        // Nobody receives: the periodic sweep alone moves them, and the list keeps the newest two.
        JsonElement letters = default;
        await Eventually.True(async () =>
        {
            var stats = await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/unread/stats");
            letters = await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/unread/dead-letters");
            return stats.GetProperty("depth").GetInt32() == 0 && letters.GetArrayLength() == 2;
        }, "the expired messages to be swept into the dead letters", 30);

        Assert.All(letters.EnumerateArray(), l => Assert.Equal("expired", l.GetProperty("reason").GetString()));
        Assert.Equal(ids.Skip(1).Order(), letters.EnumerateArray().Select(l => l.GetProperty("messageId").GetString()!).Order());
        var first = await bus.Client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/{ids[0]}");
        Assert.Equal("dead-lettered", first.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Nack_MakesTheMessageAvailableAgain()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        await bus.SendAsync(MessagingHarness.Send("a3", "hello"));
        var message = Assert.Single(await bus.ReceiveAsync("a3"));

        var nack = await bus.Client.PostAsJsonAsync($"/api/v1/messages/queue/a3/{message.GetProperty("id").GetString()}/nack", new { leaseToken = message.GetProperty("leaseToken").GetString() });

        Assert.Equal(HttpStatusCode.NoContent, nack.StatusCode);
        var again = Assert.Single(await bus.ReceiveAsync("a3"));
        Assert.Equal("hello", again.GetProperty("body").GetString());
    }

    [Fact]
    public async Task AfterMaxDeliveries_TheMessageGoesToTheDeadLetters()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env(new() { ["Messaging__MaxDeliveries"] = "2" }));
        var id = await bus.SendAsync(MessagingHarness.Send("a4", new { poison = true }));

        Assert.Single(await bus.ReceiveAsync("a4", leaseSeconds: 1));
        await Eventually.True(async () => (await bus.ReceiveAsync("a4", leaseSeconds: 1)).Count == 1, "the second delivery", 10);
        await Eventually.True(async () =>
        {
            Assert.Empty(await bus.ReceiveAsync("a4"));
            var dead = await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/a4/dead-letters");
            return dead.GetArrayLength() == 1;
        }, "the message to be dead-lettered", 10);

        var letter = (await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/a4/dead-letters"))[0];
        Assert.Equal(id, letter.GetProperty("messageId").GetString());
        Assert.Equal("max-deliveries", letter.GetProperty("reason").GetString());
        Assert.Equal(2, letter.GetProperty("deliveries").GetInt32());
        Assert.True(letter.GetProperty("message").GetProperty("body").GetProperty("poison").GetBoolean());
    }

    [Fact]
    public async Task RepeatedIdempotencyKey_ReturnsTheFirstResult_AndEnqueuesNothing_ButTowardsAnotherRecipientIsAnotherMessage()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        var request = MessagingHarness.Send("a5", new { pay = 10 }, idempotencyKey: "order-77");

        var ids = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => bus.SendAsync(request)));

        Assert.Single(ids.Distinct());
        Assert.Equal(1, await bus.DepthAsync("a5"));
        // One sender giving each agent its copy of one piece of work under one key: every agent gets its own.
        var other = await bus.SendAsync(MessagingHarness.Send("a5b", new { pay = 10 }, idempotencyKey: "order-77"));
        Assert.NotEqual(ids[0], other);
        Assert.Equal(1, await bus.DepthAsync("a5b"));
    }

    [Fact]
    public async Task EverySend_PublishesOneSentEvent_AlsoWhenConcurrentSendsLeaveInOneBulkPublish()
    {
        await using var bus = await MessagingHarness.StartAsync(pubsubKind: "redis", env: Env());
        // Concurrent sends to a few queues: their records, actor calls and sent events go out in shared batches.
        var sent = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i => (Id: await bus.SendAsync(MessagingHarness.Send($"ev{i % 3}", new { i }, priority: i % 2 == 0 ? "high" : "low")), Agent: $"ev{i % 3}", Priority: i % 2 == 0 ? "high" : "low")));

        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(TestServers.Redis);
        var wanted = sent.Select(s => s.Id).ToHashSet();
        List<JsonElement> events = [];
        await Eventually.True(async () =>
        {
            var entries = await redis.GetDatabase().StreamRangeAsync("messaging.message-sent");
            events = entries.Select(e => JsonDocument.Parse((byte[])e["data"]!).RootElement.GetProperty("data"))
                .Where(d => wanted.Contains(d.GetProperty("messageId").GetString()!)).ToList();
            return events.Count >= sent.Length;
        }, "a sent event for each of the 40 messages", 30);

        Assert.Equal(sent.Length, events.Count);
        foreach (var (id, agent, priority) in sent)
        {
            var e = Assert.Single(events, e => e.GetProperty("messageId").GetString() == id);
            Assert.Equal(agent, e.GetProperty("recipient").GetString());
            Assert.Equal(priority, e.GetProperty("priority").GetString());
        }
        Assert.Equal(14, await bus.DepthAsync("ev0"));
    }

    [Fact]
    public async Task Ttl_ExpiresUnreceivedMessages_IntoTheDeadLetters()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        await bus.SendAsync(MessagingHarness.Send("a6", "stale", ttlSeconds: 1));
        await bus.SendAsync(MessagingHarness.Send("a6", "fresh"));

        await Task.Delay(1200);
        var received = await bus.ReceiveAsync("a6");

        Assert.Equal(["fresh"], received.Select(m => m.GetProperty("body").GetString()));
        var dead = await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/a6/dead-letters");
        Assert.Equal("expired", dead[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task TopicMessages_FanOutToSubscribers_WhoseFilterMatches()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        var all = await bus.Client.PostAsJsonAsync("/api/v1/subscribe", new { agentId = "watcher", topic = "alerts" });
        var filtered = await bus.Client.PostAsJsonAsync("/api/v1/subscribe", new { agentId = "pager", topic = "alerts", filter = new Dictionary<string, string> { ["severity"] = "high" } });
        Assert.Equal(HttpStatusCode.Created, all.StatusCode);
        Assert.Equal(HttpStatusCode.Created, filtered.StatusCode);

        await bus.SendAsync(MessagingHarness.Send("alerts", "disk full", kind: "topic", attributes: new() { ["severity"] = "high" }));
        await bus.SendAsync(MessagingHarness.Send("alerts", "cpu warm", kind: "topic", attributes: new() { ["severity"] = "low" }));

        await Eventually.True(async () => await bus.DepthAsync("watcher") == 2 && await bus.DepthAsync("pager") == 1, "the fan-out to both subscribers");
        Assert.Equal("disk full", Assert.Single(await bus.ReceiveAsync("pager")).GetProperty("body").GetString());
        var list = await bus.Client.GetFromJsonAsync<JsonElement>("/api/v1/subscribe?topic=alerts");
        Assert.Equal(2, list.GetProperty("total").GetInt32());

        var id = (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await bus.Client.DeleteAsync($"/api/v1/subscribe/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bus.Client.DeleteAsync($"/api/v1/subscribe/{id}")).StatusCode);
    }

    [Fact]
    public async Task LongPoll_ReturnsAsSoonAsAMessageArrives()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());

        var waiting = bus.ReceiveAsync("a7", waitSeconds: 20);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await bus.SendAsync(MessagingHarness.Send("a7", "wake up"));

        var received = await waiting.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("wake up", Assert.Single(received).GetProperty("body").GetString());
    }

    [Fact]
    public async Task AWaitingReceive_RightAfterALeaseEmptiedTheQueue_StillGetsWhatNobodySignalled()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        await bus.SendAsync(MessagingHarness.Send("a8", new { n = 1 }));
        // This lease empties the queue: a receive right after it starts by waiting for a send rather than asking the
        // mailbox again. A lease running out is no send: the waiting receive must still find the message by polling.
        var first = Assert.Single(await bus.ReceiveAsync("a8", leaseSeconds: 1));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var again = await bus.ReceiveAsync("a8", waitSeconds: 20).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(first.GetProperty("id").GetString(), Assert.Single(again).GetProperty("id").GetString());
        // Found by the poll soon after the lease ran out, not at the end of the 20-s wait (generous for a loaded machine).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"the receive took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(2, again[0].GetProperty("deliveryCount").GetInt32());
        // And the record the ack marks is the message's, whichever copy of it the ack started from.
        Assert.Equal(HttpStatusCode.NoContent, (await bus.AckAsync("a8", again[0])).StatusCode);
        var stored = await bus.Client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/{first.GetProperty("id").GetString()}");
        Assert.Equal("acked", stored.GetProperty("status").GetString());
        Assert.Equal(1, stored.GetProperty("body").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task WaitingReceives_OfOneQueue_AreCapped_TheNextIs429_UntilOneReturns()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env(new() { ["Messaging__MaxWaitingReceivesPerQueue"] = "2" }));
        using var stop = new CancellationTokenSource();
        var delivered = new ConcurrentBag<string>();
        // Two holders keep a receive waiting on queue a8 (one refused because a probe held a place tries again).
        var holders = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await bus.Client.GetAsync("/api/v1/messages/queue/a8?waitSeconds=30", stop.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var messages = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages");
                    if (messages.GetArrayLength() > 0)
                    {
                        delivered.Add(messages[0].GetProperty("body").GetString()!);
                        return;
                    }
                }
                await Task.Delay(100, stop.Token);
            }
        }, stop.Token)).ToList();

        async Task<HttpResponseMessage> ProbeUntil(HttpStatusCode wanted)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                var probe = await bus.Client.GetAsync("/api/v1/messages/queue/a8?waitSeconds=1");
                if (probe.StatusCode == wanted)
                {
                    return probe;
                }
                Assert.True(DateTime.UtcNow < deadline, $"no {wanted} from a waiting receive within 60 s (last {probe.StatusCode})");
                await Task.Delay(200);
            }
        }

        var refused = await ProbeUntil(HttpStatusCode.TooManyRequests);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith("/too-many-waiting-receives", problem.GetProperty("type").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);
        // A receive that does not wait is not counted, and another queue has places of its own.
        Assert.Equal(HttpStatusCode.OK, (await bus.Client.GetAsync("/api/v1/messages/queue/a8")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bus.Client.GetAsync("/api/v1/messages/queue/a9?waitSeconds=1")).StatusCode);

        // A message wakes one holder; its place is free again once it returned.
        await bus.SendAsync(MessagingHarness.Send("a8", "wake"));
        await Task.WhenAny(holders).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("wake", Assert.Single(delivered));
        Assert.Equal(HttpStatusCode.OK, (await ProbeUntil(HttpStatusCode.OK)).StatusCode);
        await stop.CancelAsync();
        await Task.WhenAll(holders.Select(h => h.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    [Fact]
    public async Task BadInput_Gets400ProblemDetails_AndStoresNothing()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());

        async Task Expect400(HttpContent content, string field)
        {
            var response = await bus.Client.PostAsync("/api/v1/messages", content);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            if (field.Length > 0)
            {
                Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _), field);
            }
        }

        await Expect400(new StringContent("{\"recipient\": {", Encoding.UTF8, "application/json"), "");
        await Expect400(JsonContent.Create(MessagingHarness.Send("a8", "x", priority: "urgent")), "priority");
        await Expect400(JsonContent.Create(new { recipient = new { kind = "agent", id = "" }, body = "x" }), "recipient.id");
        await Expect400(JsonContent.Create(new { body = "x" }), "recipient");
        await Expect400(JsonContent.Create(new { recipient = new { kind = "agent", id = "a8" } }), "body");
        await Expect400(JsonContent.Create(MessagingHarness.Send("a8", new string('x', 70_000))), "body");
        await Expect400(JsonContent.Create(MessagingHarness.Send("a8", "x", ttlSeconds: -5)), "ttlSeconds");

        // No coordination service runs beside this bus, so nobody can say who is in the team: refused, nothing stored.
        var team = await bus.Client.PostAsJsonAsync("/api/v1/messages", MessagingHarness.Send("blue", "x", kind: "team"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, team.StatusCode);
        var badQuery = await bus.Client.GetAsync("/api/v1/messages/queue/a8?max=0");
        Assert.Equal(HttpStatusCode.BadRequest, badQuery.StatusCode);
        Assert.Equal(0, await bus.DepthAsync("a8"));
        Assert.Equal(0, await bus.DepthAsync("blue"));
    }

    [Fact]
    public async Task Batches_SendMany_AndAckMany_WithOneAnswerPerItem()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());
        var batch = await bus.Client.PostAsJsonAsync("/api/v1/messages/batch", new
        {
            messages = new object[]
            {
                MessagingHarness.Send("b1", new { n = 0 }),
                MessagingHarness.Send("b2", new { n = 1 }, idempotencyKey: "once"),
                MessagingHarness.Send("b1", new { n = 2 }, priority: "high"),
                MessagingHarness.Send("b2", new { n = 3 }, idempotencyKey: "once"),
                MessagingHarness.Send("b1", new { n = 4 }),
            },
        });
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var results = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3, 4], results.Select(r => r.GetProperty("index").GetInt32()));
        Assert.All(results, r => Assert.Equal(202, r.GetProperty("status").GetInt32()));
        Assert.Equal(results[1].GetProperty("messageId").GetString(), results[3].GetProperty("messageId").GetString());
        Assert.True(results[3].GetProperty("replayed").GetBoolean());
        Assert.Equal(1, await bus.DepthAsync("b2"));

        var received = await bus.ReceiveAsync("b1");
        Assert.Equal([2, 0, 4], received.Select(m => m.GetProperty("body").GetProperty("n").GetInt32()));
        var acks = await bus.Client.PostAsJsonAsync("/api/v1/messages/queue/b1/ack", new
        {
            items = new object[]
            {
                new { id = received[0].GetProperty("id").GetString(), leaseToken = received[0].GetProperty("leaseToken").GetString() },
                new { id = received[1].GetProperty("id").GetString(), leaseToken = received[2].GetProperty("leaseToken").GetString() },
                new { id = received[0].GetProperty("id").GetString(), leaseToken = received[0].GetProperty("leaseToken").GetString() },
                new { id = received[2].GetProperty("id").GetString(), leaseToken = received[2].GetProperty("leaseToken").GetString() },
            },
        });
        Assert.Equal(HttpStatusCode.OK, acks.StatusCode);
        var statuses = (await acks.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().Select(r => r.GetProperty("status").GetInt32());
        Assert.Equal([204, 409, 404, 204], statuses);
        Assert.Equal(1, await bus.DepthAsync("b1"));
        var acked = await bus.Client.GetFromJsonAsync<JsonElement>($"/api/v1/messages/{received[2].GetProperty("id").GetString()}");
        Assert.Equal("acked", acked.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Batches_WithABadItem_Get400NamingTheItem_AndStoreNothing()
    {
        await using var bus = await MessagingHarness.StartAsync(env: Env());

        var send = await bus.Client.PostAsJsonAsync("/api/v1/messages/batch", new
        {
            messages = new object[] { MessagingHarness.Send("c1", "fine"), MessagingHarness.Send("c1", "x", priority: "urgent") },
        });
        var empty = await bus.Client.PostAsJsonAsync("/api/v1/messages/batch", new { messages = Array.Empty<object>() });
        var ack = await bus.Client.PostAsJsonAsync("/api/v1/messages/queue/c1/ack", new { items = new object[] { new { id = "m1" } } });

        Assert.Equal(HttpStatusCode.BadRequest, send.StatusCode);
        Assert.Equal("application/problem+json", send.Content.Headers.ContentType?.MediaType);
        Assert.True((await send.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("messages[1].priority", out _));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, ack.StatusCode);
        Assert.True((await ack.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("items[0].leaseToken", out _));
        Assert.Equal(0, await bus.DepthAsync("c1"));
    }

    [Fact]
    public async Task QueuedMessages_SurviveARestartOfTheServiceAndOfTheRuntime()
    {
        using var folder = new ComponentsFolder().State("redis", extraMetadata: ComponentsFolder.ActorStateStore).PubSub("redis");
        var appId = TestServers.NewId("messaging");
        int sidecarHttp = TestSidecar.FreePort(), sidecarGrpc = TestSidecar.FreePort(), appPort = TestSidecar.FreePort();
        using var http = DaprClient.CreateInvokeHttpClient(appId, $"http://127.0.0.1:{sidecarHttp}");

        await using (var service = await ServiceProcess.StartAsync("AgenticFlow.Messaging", appPort, sidecarHttp, sidecarGrpc, Env()))
        await using (var runtime = await RuntimeProcess.StartAsync(appId, folder.Path, appPort, sidecarHttp, sidecarGrpc))
        {
            for (var i = 0; i < 5; i++)
            {
                var sent = await http.PostAsJsonAsync("/api/v1/messages", MessagingHarness.Send("survivor", new { i }));
                Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
            }
            await runtime.KillAsync();
            await service.KillAsync();
        }

        await using var service2 = await ServiceProcess.StartAsync("AgenticFlow.Messaging", appPort, sidecarHttp, sidecarGrpc, Env());
        await using var runtime2 = await RuntimeProcess.StartAsync(appId, folder.Path, appPort, sidecarHttp, sidecarGrpc);
        var received = (await http.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/survivor?max=10")).GetProperty("messages");
        Assert.Equal([0, 1, 2, 3, 4], received.EnumerateArray().Select(m => m.GetProperty("body").GetProperty("i").GetInt32()));
    }

    [Fact]
    public async Task TwoReplicas_NeverHandOneMessageToTwoConsumersAtOnce()
    {
        using var folder = new ComponentsFolder().State("postgresql", extraMetadata: ComponentsFolder.ActorStateStore).PubSub("in-memory");
        var appId = TestServers.NewId("messaging");
        var replicas = new List<(ServiceProcess Service, TestSidecar Sidecar, HttpClient Client)>();
        try
        {
            for (var r = 0; r < 2; r++)
            {
                int sidecarHttp = TestSidecar.FreePort(), sidecarGrpc = TestSidecar.FreePort(), appPort = TestSidecar.FreePort();
                var service = await ServiceProcess.StartAsync("AgenticFlow.Messaging", appPort, sidecarHttp, sidecarGrpc, Env());
                var sidecar = await TestSidecar.StartAsync(appId, folder.Path, appPort, httpPort: sidecarHttp, grpcPort: sidecarGrpc, instanceId: r.ToString());
                // Each client reaches its own replica: the sidecar's own app is the first choice for its app id.
                replicas.Add((service, sidecar, DaprClient.CreateInvokeHttpClient(appId, $"http://127.0.0.1:{sidecarHttp}")));
            }
            for (var i = 0; i < 40; i++)
            {
                var sent = await replicas[i % 2].Client.PostAsJsonAsync("/api/v1/messages", MessagingHarness.Send("shared", new { i }));
                Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
            }

            var handed = new ConcurrentBag<string>();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Task.WhenAll(replicas.SelectMany(r => Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                while (handed.Count < 40)
                {
                    Assert.False(deadline.IsCancellationRequested, $"only {handed.Count} of 40 messages were handed out within 60 s");
                    var batch = (await r.Client.GetFromJsonAsync<JsonElement>("/api/v1/messages/queue/shared?max=3&leaseSeconds=60")).GetProperty("messages");
                    foreach (var m in batch.EnumerateArray())
                    {
                        handed.Add(m.GetProperty("id").GetString()!);
                    }
                    if (batch.GetArrayLength() == 0)
                    {
                        await Task.Delay(20);
                    }
                }
            }))));

            Assert.Equal(40, handed.Count);
            Assert.Equal(40, handed.Distinct().Count());
        }
        finally
        {
            foreach (var (service, sidecar, client) in replicas)
            {
                client.Dispose();
                await sidecar.DisposeAsync();
                await service.DisposeAsync();
            }
        }
    }
}

/// <summary>Every messaging test again with the <c>document</c> mailbox design.</summary>
public sealed class DocumentMailboxMessagingTests : MessagingTests
{
    protected override string? Design => "document";
}
