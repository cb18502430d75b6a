using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgenticFlow.IntegrationTests;

/// <summary>One platform (gateway, messaging, providers and their sidecars) for every attack of this class.</summary>
public sealed class EdgeFixture : IAsyncLifetime
{
    public PlatformHarness Gateway { get; private set; } = null!;
    public JsonElement Secrets { get; private set; }

    /// <summary>Admin sends a1 this message before any attack; no attack may lease, read or remove it.</summary>
    public string A1MessageId { get; private set; } = "";
    public const string A1Marker = "for-a1-eyes-only-7f3c";

    public async Task InitializeAsync()
    {
        Gateway = await PlatformHarness.StartAsync();
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        Secrets = JsonDocument.Parse(File.ReadAllText(Path.Combine(repo, "components/local/secrets.json"))).RootElement.Clone();
        var sent = await Gateway.Client.SendAsync(Gateway.Request(HttpMethod.Post, "/api/v1/messages", "dev-admin-key",
            new { recipient = new { kind = "agent", id = "a1" }, body = new { marker = A1Marker } }));
        A1MessageId = (await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>
/// Attacks on the ingress and what stands behind it: path traversal in every encoding into every route family with
/// every role, identity headers that name another agent, and a role mix that used to lift an agent's limits.
/// </summary>
public sealed class EdgeSecurityTests(EdgeFixture fixture) : IClassFixture<EdgeFixture>
{
    private PlatformHarness Gw => fixture.Gateway;

    private static readonly string[] Keys = ["dev-admin-key", "dev-operator-key", "dev-agent-a2-key", "dev-viewer-key", ""];

    /// <summary>Route families of the gateway, each with the verb it takes, as a prefix the attack climbs out of.</summary>
    private static readonly (string Verb, string Prefix)[] Families =
    [
        ("GET", "/api/v1/messages/queue/a2/"), ("POST", "/api/v1/messages/queue/a2/m/"), ("GET", "/api/v1/messages/"),
        ("GET", "/api/v1/subscribe/"), ("POST", "/api/v1/subscribe/"), ("DELETE", "/api/v1/subscribe/"),
        ("GET", "/api/v1/providers/"), ("PUT", "/api/v1/providers/x/"), ("GET", "/v1/models/"), ("POST", "/v1/chat/completions/"),
    ];

    /// <summary>What an escape would reach: the sidecars' own API, or another agent's queue.</summary>
    private static readonly string[] Targets =
    [
        "v1.0/secrets/secretstore/bulk", "v1.0/secrets/secretstore/gateway-jwt-signing-key", "v1.0/metadata",
        "v1.0/state/statestore", "v1.0/shutdown", "api/v1/messages/queue/a1",
    ];

    /// <summary>One climb step: a dot-segment and a separator, in single, double and triple encodings, mixed case,
    /// overlong UTF-8, path parameters, trailing dots, NUL and backslashes.</summary>
    private static readonly string[] Steps =
    [
        "../", "./../", "%2e%2e/", "%2E%2E/", ".%2e/", "%2e./", "%252E%252E/", "%252e%252e%252f", "%25252E%25252E/",
        "..%2F", "..%2f", "..%252F", "%2e%2e%2f", "..%5C", "..\\", "..;/", "...;/", "..%00/", "%c0%ae%c0%ae/",
        "%e0%80%ae%e0%80%ae/", "....//", "%2E%2e%2F", "..%c0%af", "%252E%252E%255C",
    ];

    [Fact]
    public async Task PathTraversal_InAnyEncoding_IntoAnyRoute_WithAnyRole_IsRefusedAndChangesNothing()
    {
        var signingKey = fixture.Secrets.GetProperty("gateway-jwt-signing-key").GetString()!;
        var failures = new List<string>();
        foreach (var key in Keys)
        {
            var headers = new Dictionary<string, string>();
            if (key.Length > 0)
            {
                headers["X-Api-Key"] = key;
            }
            foreach (var (verb, prefix) in Families)
            {
                foreach (var step in Steps)
                {
                    foreach (var target in Targets)
                    {
                        var path = prefix + string.Concat(Enumerable.Repeat(step, 8)) + target;
                        var answer = await RawHttp.SendAsync(Gw.Port, verb, path, headers, verb is "POST" or "PUT" ? """[{"key":"pwned","value":1}]""" : null);
                        var text = answer.Head + answer.Body;
                        if (answer.Status != 400 || text.Contains(signingKey) || text.Contains(EdgeFixture.A1Marker) || text.Contains("connectionString") || text.Contains("sha256"))
                        {
                            failures.Add($"{key} {verb} {path} -> {answer.Status} {answer.Body[..Math.Min(200, answer.Body.Length)]}");
                        }
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} attempts were not refused with 400:\n{string.Join('\n', failures.Take(20))}");
        // Nothing changed: a1's message was never leased by anyone else, no state was written, every sidecar still serves.
        var queue = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a1?max=10", "dev-agent-a1-key"));
        var mine = (await queue.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("id").GetString() == fixture.A1MessageId);
        Assert.Equal(1, mine.GetProperty("deliveryCount").GetInt32());
        var nack = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Post, $"/api/v1/messages/queue/a1/{fixture.A1MessageId}/nack", "dev-agent-a1-key", new { leaseToken = mine.GetProperty("leaseToken").GetString() }));
        Assert.Equal(HttpStatusCode.NoContent, nack.StatusCode);
        Assert.Null(await Gw.MessagingSidecar.Client.GetStateAsync<int?>("statestore", "pwned"));
        Assert.True(Gw.GatewaySidecar.Sidecar.IsReady && Gw.MessagingSidecar.Sidecar.IsReady);
    }

    [Fact]
    public async Task TheGateway_ForwardsOrdinaryPaths_AndExplainsARefusal()
    {
        var refused = await RawHttp.SendAsync(Gw.Port, "GET", "/api/v1/messages/queue/a2/%252E%252E/a1", new Dictionary<string, string> { ["X-Api-Key"] = "dev-agent-a2-key" });
        var fine = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, "/api/v1/messages/queue/a2/stats", "dev-agent-a2-key"));

        Assert.Equal(400, refused.Status);
        Assert.Contains("application/problem+json", refused.Head);
        Assert.Contains("malformed-path", refused.Body);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    /// <summary>Calls messaging through the gateway's sidecar with the gateway's own API token, as if the gateway
    /// had let the call through, with identity headers naming <paramref name="agent"/> in <paramref name="roles"/>.</summary>
    private async Task<HttpStatusCode> AsGatewayWouldForward(HttpMethod method, string path, string roles, string? agent, object? body = null, string app = "messaging")
    {
        var request = new HttpRequestMessage(method, $"/v1.0/invoke/{app}/method{path}");
        request.Headers.Add("dapr-api-token", Gw.DaprToken);
        request.Headers.Add("X-AgenticFlow-Principal", "someone");
        request.Headers.Add("X-AgenticFlow-Roles", roles);
        if (agent is not null)
        {
            request.Headers.Add("X-AgenticFlow-Agent-Id", agent);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Gw.GatewaySidecar.HttpPort}") };
        return (await http.SendAsync(request)).StatusCode;
    }

    [Fact]
    public async Task Messaging_ChecksTheCallersIdentityAgainstTheRoute_EvenWithAValidSidecarToken()
    {
        var id = fixture.A1MessageId;
        var lease = new { leaseToken = "whatever" };

        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1", "agent", "a2"));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1", "agent,viewer", "a2"));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1/stats", "viewer", null));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1/dead-letters", "agent", "a2"));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Post, $"/api/v1/messages/queue/a1/{id}/ack", "agent", "a2", lease));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Post, $"/api/v1/messages/queue/a1/{id}/nack", "agent,viewer", "a2", lease));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1", "", null));
        // A message is readable by its recipient, admins and operators only.
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, $"/api/v1/messages/{id}", "agent", "a2"));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Get, $"/api/v1/messages/{id}", "viewer", null));
        Assert.Equal(HttpStatusCode.OK, await AsGatewayWouldForward(HttpMethod.Get, $"/api/v1/messages/{id}", "agent", "a1"));
        Assert.Equal(HttpStatusCode.OK, await AsGatewayWouldForward(HttpMethod.Get, $"/api/v1/messages/{id}", "operator", null));
        Assert.Equal(HttpStatusCode.OK, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a1/stats", "admin", null));
        Assert.Equal(HttpStatusCode.OK, await AsGatewayWouldForward(HttpMethod.Get, "/api/v1/messages/queue/a2/stats", "agent,viewer", "a2"));
    }

    [Fact]
    public async Task AnAgentThatIsAlsoAViewer_IsStillRestrictedAsAnAgent()
    {
        var token = Token(new Claim("sub", "mixed"), new Claim("role", "agent"), new Claim("role", "viewer"), new Claim("agent_id", "a7"));
        HttpRequestMessage As(HttpMethod method, string path, object? body = null) => WithBearer(Gw.Request(method, path, null, body), token);

        var sendAsOther = await Gw.Client.SendAsync(As(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "agent", id = "a1" }, body = "x", from = "a1" }));
        var subscribeOther = await Gw.Client.SendAsync(As(HttpMethod.Post, "/api/v1/subscribe", new { agentId = "a1", topic = "news" }));
        var readOther = await Gw.Client.SendAsync(As(HttpMethod.Get, $"/api/v1/messages/{fixture.A1MessageId}"));
        var sendAsSelf = await Gw.Client.SendAsync(As(HttpMethod.Post, "/api/v1/messages", new { recipient = new { kind = "agent", id = "a7" }, body = "note to self" }));

        Assert.Equal(HttpStatusCode.Forbidden, sendAsOther.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, subscribeOther.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, readOther.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, sendAsSelf.StatusCode);
        var ownId = (await sendAsSelf.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString();
        var readOwn = await Gw.Client.SendAsync(As(HttpMethod.Get, $"/api/v1/messages/{ownId}"));
        Assert.Equal(HttpStatusCode.OK, readOwn.StatusCode);
        Assert.Equal("a7", (await readOwn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("from").GetString());
    }

    private string Token(params Claim[] claims) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "agenticflow",
        Audience = "agenticflow-api",
        Expires = DateTime.UtcNow.AddMinutes(5),
        Subject = new ClaimsIdentity(claims),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(fixture.Secrets.GetProperty("gateway-jwt-signing-key").GetString()!)), SecurityAlgorithms.HmacSha256),
    });

    private static HttpRequestMessage WithBearer(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new("Bearer", token);
        return request;
    }

    [Fact]
    public async Task AnAgentIsChargedAsItself_AndAnAgentTokenWithoutAnAgentId_IsRefused()
    {
        var nameless = Token(new Claim("sub", "drifter"), new Claim("role", "agent"));
        var ask = new { messages = new[] { new { role = "user", content = "charge someone else" } }, caller = "a1" };

        var refused = await Gw.Client.SendAsync(WithBearer(Gw.Request(HttpMethod.Post, "/api/v1/providers/complete", null, ask), nameless));
        var charged = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Post, "/api/v1/providers/complete", "dev-agent-a2-key", ask));
        var costs = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, "/api/v1/providers/costs?groupBy=caller", "dev-admin-key"));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, charged.StatusCode);
        var callers = (await costs.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("key").GetString()).ToList();
        Assert.Contains("a2", callers);
        Assert.DoesNotContain("a1", callers);
    }

    [Fact]
    public async Task ProviderSettings_AreAdminsOnly_InTheServiceToo()
    {
        var config = new { kind = "openai", endpoint = "https://attacker.example/v1", apiKeySecret = "provider-openai", models = new[] { new { name = "m" } } };

        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Put, "/api/v1/providers/local/config", "operator", null, config, app: "providers"));
        Assert.Equal(HttpStatusCode.Forbidden, await AsGatewayWouldForward(HttpMethod.Put, "/api/v1/providers/local/config", "agent", "a2", config, app: "providers"));
    }

    [Fact]
    public async Task IdempotencyKeys_BelongToTheirSender()
    {
        async Task<HttpResponseMessage> Send(HttpRequestMessage request)
        {
            request.Headers.Add("Idempotency-Key", "invoice-42");
            return await Gw.Client.SendAsync(request);
        }
        var body = new { recipient = new { kind = "agent", id = "a9" }, body = "pay" };

        var first = await Send(Gw.Request(HttpMethod.Post, "/api/v1/messages", "dev-agent-a2-key", body));
        var other = await Send(WithBearer(Gw.Request(HttpMethod.Post, "/api/v1/messages", null, body), Token(new Claim("sub", "x"), new Claim("role", "agent"), new Claim("agent_id", "a8"))));
        var again = await Send(Gw.Request(HttpMethod.Post, "/api/v1/messages", "dev-agent-a2-key", body));

        static async Task<string> Id(HttpResponseMessage r) => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        Assert.False(other.Headers.Contains("Idempotent-Replayed"));
        var firstId = await Id(first);
        Assert.NotEqual(firstId, await Id(other));
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstId, await Id(again));
    }

    [Fact]
    public async Task AnAgent_SeesOnlyItsOwnSubscriptions()
    {
        var mine = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Post, "/api/v1/subscribe", "dev-agent-a2-key", new { agentId = "a2", topic = "secret-deals", filter = new { customer = "acme" } }));
        var theirs = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Post, "/api/v1/subscribe", "dev-agent-a1-key", new { agentId = "a1", topic = "secret-deals" }));
        var theirId = (await theirs.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        var listedByA2 = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, "/api/v1/subscribe?topic=secret-deals", "dev-agent-a2-key"));
        var a2ReadsA1 = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, $"/api/v1/subscribe/{theirId}", "dev-agent-a2-key"));
        var listedByViewer = await Gw.Client.SendAsync(Gw.Request(HttpMethod.Get, "/api/v1/subscribe?topic=secret-deals", "dev-viewer-key"));

        Assert.Equal(HttpStatusCode.Created, mine.StatusCode);
        var agents = (await listedByA2.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("agentId").GetString()).ToList();
        Assert.Equal(["a2"], agents);
        Assert.Equal(HttpStatusCode.NotFound, a2ReadsA1.StatusCode);
        Assert.Equal(2, (await listedByViewer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task TheGatewaysSidecar_GivesTheGatewayItsOwnSecretsOnly_AndOtherAppsNone()
    {
        var gatewayKeys = await Gw.GatewaySidecar.Client.GetSecretAsync("secretstore", "gateway-api-keys");
        var messagingBulk = await Gw.MessagingSidecar.Client.GetBulkSecretAsync("secretstore");

        Assert.Contains("sha256", gatewayKeys.Values.Single());
        Assert.Empty(messagingBulk);
        await Assert.ThrowsAnyAsync<Dapr.DaprException>(() => Gw.MessagingSidecar.Client.GetSecretAsync("secretstore", "gateway-jwt-signing-key"));
    }
}
