using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgenticFlow.IntegrationTests;

/// <summary>The ingress: who may do what, limits, and bad input, all through real processes and sidecars.</summary>
public sealed class GatewayTests
{
    private const string Admin = "dev-admin-key", AgentA1 = "dev-agent-a1-key", AgentA2 = "dev-agent-a2-key", Viewer = "dev-viewer-key";

    private static object Message(string to, object body, string priority = "normal") => new { recipient = new { kind = "agent", id = to }, priority, body };

    [Fact]
    public async Task Credentials_AndRoles_AreCheckedPerRoute()
    {
        await using var gw = await PlatformHarness.StartAsync();

        var anonymous = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", null, Message("a1", "hi")));
        var unknownKey = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", "not-a-key", Message("a1", "hi")));
        var viewerSends = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", Viewer, Message("a1", "hi")));
        var otherQueue = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1", AgentA2));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownKey.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, viewerSends.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherQueue.StatusCode);
        Assert.Equal("application/problem+json", otherQueue.Content.Headers.ContentType?.MediaType);

        var sent = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", AgentA2, Message("a1", new { job = 7 }, "high")));
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var own = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1", AgentA1));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var message = (await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages")[0];
        Assert.Equal(7, message.GetProperty("body").GetProperty("job").GetInt32());
        Assert.Equal("a2", message.GetProperty("from").GetString());
        var spoofed = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", AgentA2, new { recipient = new { kind = "agent", id = "a1" }, body = "x", from = "a1" }));
        Assert.Equal(HttpStatusCode.Forbidden, spoofed.StatusCode);
        var ack = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, $"/api/v1/messages/queue/a1/{message.GetProperty("id").GetString()}/ack", AgentA1,
            new { leaseToken = message.GetProperty("leaseToken").GetString() }));
        Assert.Equal(HttpStatusCode.NoContent, ack.StatusCode);
        var viewerReads = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, $"/api/v1/messages/{message.GetProperty("id").GetString()}", Viewer));
        // A message is for its sender, its recipient, admins and operators, not for every viewer.
        Assert.Equal(HttpStatusCode.Forbidden, viewerReads.StatusCode);
    }

    [Fact]
    public async Task JwtBearerTokens_SignedWithTheStoreKey_AreAccepted()
    {
        await using var gw = await PlatformHarness.StartAsync();
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var secrets = JsonDocument.Parse(File.ReadAllText(Path.Combine(repo, "components/local/secrets.json"))).RootElement;
        var key = new SymmetricSecurityKey(Convert.FromBase64String(secrets.GetProperty("gateway-jwt-signing-key").GetString()!));
        string Token(SymmetricSecurityKey signing) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "agenticflow",
            Audience = "agenticflow-api",
            Expires = DateTime.UtcNow.AddMinutes(5),
            Subject = new ClaimsIdentity([new Claim("sub", "robot"), new Claim("role", "agent"), new Claim("agent_id", "a9")]),
            SigningCredentials = new SigningCredentials(signing, SecurityAlgorithms.HmacSha256),
        });

        var good = new HttpRequestMessage(HttpMethod.Get, "/api/v1/messages/queue/a9");
        good.Headers.Authorization = new("Bearer", Token(key));
        var forged = new HttpRequestMessage(HttpMethod.Get, "/api/v1/messages/queue/a9");
        forged.Headers.Authorization = new("Bearer", Token(new SymmetricSecurityKey(new byte[32])));

        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(good)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gw.Client.SendAsync(forged)).StatusCode);
    }

    [Fact]
    public async Task ManyLongPollsThroughTheGateway_DoNotHoldUpOtherCalls()
    {
        await using var gw = await PlatformHarness.StartAsync(new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" });
        using var polls = new CancellationTokenSource();
        // 150 consumers wait on empty queues through the gateway, each holding a connection for up to 30 s.
        var waiting = Enumerable.Range(0, 150).Select(i => gw.Client.SendAsync(gw.Request(HttpMethod.Get, $"/api/v1/messages/queue/idle-{i}?waitSeconds=30", Admin), polls.Token)).ToList();

        // Meanwhile other clients send and receive as usual: every one of these calls is answered while all the long
        // polls are still waiting (no connection, thread or lock they hold is one these calls need).
        for (var i = 0; i < 20; i++)
        {
            var sent = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/messages", Admin, Message("busy", new { n = i })));
            Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        }
        var received = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/busy?max=20", Admin));
        Assert.Equal(HttpStatusCode.OK, received.StatusCode);
        Assert.Equal(20, (await received.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages").GetArrayLength());
        Assert.DoesNotContain(waiting, w => w.IsCompleted);

        await polls.CancelAsync();
        await Task.WhenAll(waiting.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    [Fact]
    public async Task OverTheRateLimit_Answers429WithRetryAfter()
    {
        await using var gw = await PlatformHarness.StartAsync(new() { ["Gateway__RequestsPerSecond"] = "1", ["Gateway__Burst"] = "3" });

        var statuses = new List<HttpResponseMessage>();
        // Ten quick calls against a burst of three refilled at one a second: some must be refused.
        for (var i = 0; i < 10; i++)
        {
            statuses.Add(await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1/stats", Admin)));
        }

        var limited = statuses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(statuses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 3);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        // Health probes are never limited; other paths below /healthz are, like any path.
        var belowHealth = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            belowHealth.Add((await gw.Client.GetAsync($"/healthz/x{i}")).StatusCode);
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, belowHealth);
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task BadInput_Gets400Or413ProblemDetails_AndNothingIsStored()
    {
        await using var gw = await PlatformHarness.StartAsync();

        async Task<HttpResponseMessage> Post(HttpContent content)
        {
            var request = gw.Request(HttpMethod.Post, "/api/v1/messages", Admin);
            request.Content = content;
            return await gw.Client.SendAsync(request);
        }

        var badJson = await Post(new StringContent("{\"recipient\":", Encoding.UTF8, "application/json"));
        var unknownPriority = await Post(JsonContent.Create(Message("b1", "x", "urgent")));
        var emptyRecipient = await Post(JsonContent.Create(new { recipient = new { kind = "agent", id = "" }, body = "x" }));
        var bigBody = await Post(JsonContent.Create(Message("b1", new string('x', 100_000))));
        var hugeRequest = await Post(new StringContent(new string(' ', 2_000_000) + "{}", Encoding.UTF8, "application/json"));

        foreach (var response in new[] { badJson, unknownPriority, emptyRecipient, bigBody })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, hugeRequest.StatusCode);
        // A body that does not bind says where: the field and the position, with a stable problem type.
        var wrongType = await (await Post(new StringContent("{\"recipient\": 5, \"body\": 1}", Encoding.UTF8, "application/json"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://agenticflow.dev/problems/malformed-request", wrongType.GetProperty("type").GetString());
        Assert.Contains("$.recipient", wrongType.GetProperty("detail").GetString());
        var badQuery = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/b1?max=abc", Admin));
        Assert.Equal(HttpStatusCode.BadRequest, badQuery.StatusCode);
        Assert.Contains("max", (await badQuery.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        var stats = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/messages/queue/b1/stats", Admin));
        Assert.Equal(0, (await stats.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("depth").GetInt32());
    }

    [Fact]
    public async Task CorrelationIds_AreEchoed_AndSpoofedIdentityHeadersAreStripped()
    {
        await using var gw = await PlatformHarness.StartAsync();

        var request = gw.Request(HttpMethod.Post, "/api/v1/subscribe", AgentA1, new { agentId = "a2", topic = "news" });
        request.Headers.Add("X-AgenticFlow-Roles", "admin");
        request.Headers.Add("X-Correlation-Id", "corr-123");
        var response = await gw.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("corr-123", response.Headers.GetValues("X-Correlation-Id").Single());
        var own = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/subscribe", AgentA1, new { agentId = "a1", topic = "news" }));
        Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        Assert.True((await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/nothing-here", Admin))).StatusCode == HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task OpenAiClients_UseThePlatformThroughTheGateway_WithAnApiKeyAsTheirBearerToken()
    {
        await using var gw = await PlatformHarness.StartAsync();
        var sdk = new OpenAI.Chat.ChatClient("local-echo", new System.ClientModel.ApiKeyCredential(AgentA1),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{gw.Port}/v1") });

        OpenAI.Chat.ChatCompletion completion = await sdk.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hello through the gateway")]);
        var viewer = await gw.Client.SendAsync(gw.Request(HttpMethod.Post, "/api/v1/providers/complete", Viewer, new { messages = new[] { new { role = "user", content = "x" } } }));
        var operatorConfig = await gw.Client.SendAsync(gw.Request(HttpMethod.Put, "/api/v1/providers/local/config", "dev-operator-key", new { kind = "local", models = new[] { new { name = "x" } } }));
        var costs = await gw.Client.SendAsync(gw.Request(HttpMethod.Get, "/api/v1/providers/costs?groupBy=caller", Viewer));

        Assert.StartsWith("[local development provider]", completion.Content[0].Text);
        Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, operatorConfig.StatusCode);
        Assert.Equal(HttpStatusCode.OK, costs.StatusCode);
        // The gateway names the calling agent, so costs are charged to a1.
        Assert.Equal("a1", (await costs.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("groups")[0].GetProperty("key").GetString());
    }
}
