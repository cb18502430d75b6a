using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Dapr;
using static AgenticFlow.IntegrationTests.ProvidersHarness;

namespace AgenticFlow.IntegrationTests;

/// <summary>The providers service against scripted fake OpenAI and Anthropic servers.</summary>
public sealed class ProvidersTests
{
    private static object Ask(string text, object? routing = null, string caller = "agent-1", int? maxTokens = null, bool stream = false) =>
        new { messages = new[] { new { role = "user", content = text } }, routing, caller, options = new { maxTokens }, stream };

    [Fact]
    public async Task WithNoProvidersConfigured_TheLocalDevelopmentProviderAnswers()
    {
        await using var p = await StartAsync([]);

        var response = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("hello there platform"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("local", body.GetProperty("provider").GetString());
        Assert.True(body.GetProperty("development").GetBoolean());
        Assert.StartsWith("[local development provider]", body.GetProperty("text").GetString());
        var listed = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers");
        Assert.True(listed[0].GetProperty("development").GetBoolean());
    }

    [Fact]
    public async Task OpenAiCompatibleProvider_Answers_CostFollowsThePriceTable_AndTheKeyNeverLeaks()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var p = await StartAsync(Provider(0, "fake-openai", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "gpt-test", inPrice: 2m, outPrice: 8m));

        var responses = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            var response = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("price me", caller: "team-a"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            responses.Add(await response.Content.ReadFromJsonAsync<JsonElement>());
        }

        var first = responses[0];
        Assert.Equal("fake-openai", first.GetProperty("provider").GetString());
        Assert.Equal("Hello from the fake", first.GetProperty("text").GetString());
        Assert.Equal(1000, first.GetProperty("usage").GetProperty("inputTokens").GetInt64());
        // 1000 input tokens at 2 USD/1M + 500 output tokens at 8 USD/1M
        Assert.Equal(0.006m, first.GetProperty("costUsd").GetDecimal());
        var costs = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/costs?groupBy=caller");
        Assert.Equal(0.018m, costs.GetProperty("totalUsd").GetDecimal());
        Assert.Equal("team-a", costs.GetProperty("groups")[0].GetProperty("key").GetString());
        Assert.Equal(3, costs.GetProperty("groups")[0].GetProperty("calls").GetInt32());

        Assert.All(fake.Requests, r => Assert.Equal("Bearer " + OpenAiKey, r.Auth));

        // An exact repeat with a cache TTL is answered from the cache: no provider call, no cost.
        var cachedAsk = Ask("cache me", new { cacheTtlSeconds = 60 }, caller: "team-a");
        var miss = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", cachedAsk)).Content.ReadFromJsonAsync<JsonElement>();
        var callsBefore = fake.Requests.Count;
        var hit = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", cachedAsk)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(miss.GetProperty("cached").GetBoolean());
        Assert.True(hit.GetProperty("cached").GetBoolean());
        Assert.Equal(0m, hit.GetProperty("costUsd").GetDecimal());
        Assert.Equal(miss.GetProperty("text").GetString(), hit.GetProperty("text").GetString());
        Assert.Equal(callsBefore, fake.Requests.Count);
        var everything = string.Join("\n", responses.Select(r => r.GetRawText())) + await p.Client.GetStringAsync("/api/v1/providers")
            + await p.Client.GetStringAsync("/api/v1/providers/status") + costs.GetRawText() + p.Service.Output;
        Assert.DoesNotContain(OpenAiKey, everything);
    }

    [Fact]
    public async Task FailingProvider_FallsBackToTheNext_AndItsCircuitOpensThenCloses()
    {
        await using var broken = await FakeProvider.StartAsync();
        await using var anthropic = await FakeProvider.StartAsync();
        for (var i = 0; i < 100; i++)
        {
            broken.Script.Enqueue("500");
        }
        await using var p = await StartAsync(Merge(
            Provider(0, "primary", "openai", $"http://127.0.0.1:{broken.Port}/v1", "provider-openai-key", "shared-model", priority: 1),
            Provider(1, "secondary", "anthropic", $"http://127.0.0.1:{anthropic.Port}", "provider-anthropic-key", "shared-model", priority: 2),
            new() { ["Providers__Retries"] = "0", ["Providers__BreakerMinimumThroughput"] = "2", ["Providers__BreakerSeconds"] = "5" }));

        for (var i = 0; i < 3; i++)
        {
            var response = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("fall back"));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("secondary", body.GetProperty("provider").GetString());
        }
        var status = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/status");
        Assert.Equal("open", status.EnumerateArray().Single(s => s.GetProperty("id").GetString() == "primary").GetProperty("circuit").GetString());
        var callsWhileOpen = broken.Requests.Count;
        var skipped = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("skip it"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("primary: circuit open", skipped.GetProperty("attempts").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(callsWhileOpen, broken.Requests.Count);
        Assert.Contains(AnthropicKey, anthropic.Requests.First().Auth);

        // Once the break (5 s, long enough that three quick calls fall in one sampling window however loaded the
        // machine is) is over, the circuit half-opens, the next call reaches the primary, and it closes.
        broken.Script.Clear();
        await AgenticFlow.LocalRuntime.Tests.Infrastructure.Eventually.True(async () =>
        {
            var healed = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("heal"))).Content.ReadFromJsonAsync<JsonElement>();
            return healed.GetProperty("provider").GetString() == "primary";
        }, "the primary to answer again after the break", 30);
        status = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/status");
        Assert.Equal("closed", status.EnumerateArray().Single(s => s.GetProperty("id").GetString() == "primary").GetProperty("circuit").GetString());
    }

    [Fact]
    public async Task RetryAfter_IsHonoured_AndLimitsAndBudgetsRefuseWithClearProblems()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Script.Enqueue("429:1");
        await using var p = await StartAsync(Merge(
            Provider(0, "limited", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "gpt-test", priority: 1, rpm: 3),
            new() { ["Providers__Budgets__poor"] = "0.000001" }));

        var retried = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("retry me", new { providers = new[] { "limited" } }));
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        var times = fake.Requests.Select(r => r.At).ToList();
        Assert.Equal(2, times.Count);
        Assert.True(times[1] - times[0] >= TimeSpan.FromMilliseconds(900), $"retried after {(times[1] - times[0]).TotalMilliseconds} ms");

        // Budgets: the first call of "poor" costs more than its whole budget; the next is refused before any provider is asked.
        var firstPoor = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("spend", new { providers = new[] { "limited" } }, caller: "poor"));
        Assert.Equal(HttpStatusCode.OK, firstPoor.StatusCode);
        var broke = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("spend more", new { providers = new[] { "limited" } }, caller: "poor"));
        Assert.Equal(HttpStatusCode.PaymentRequired, broke.StatusCode);

        // rpm 3: the retried call and the first "poor" call took two; one more fits, the next is refused.
        Assert.Equal(HttpStatusCode.OK, (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("fill", new { providers = new[] { "limited" } }))).StatusCode);
        var limited = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("over", new { providers = new[] { "limited" } }));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter is not null);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal(4, fake.Requests.Count);
        Assert.Contains("budget", await broke.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ARetryAfter_IsNotSleptOut_WhileAnotherProviderCanAnswer()
    {
        await using var busy = await FakeProvider.StartAsync();
        await using var spare = await FakeProvider.StartAsync();
        busy.Script.Enqueue("429:5");
        await using var p = await StartAsync(Merge(
            Provider(0, "busy", "openai-compatible", $"http://127.0.0.1:{busy.Port}/v1", "provider-openai-key", "gpt-test", priority: 1),
            Provider(1, "spare", "openai-compatible", $"http://127.0.0.1:{spare.Port}/v1", "provider-openai-key", "gpt-test", priority: 2)));

        var response = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("now, please"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        // The spare answered, and the busy provider was asked once: its Retry-After was not waited out in place.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("spare", body.GetProperty("provider").GetString());
        Assert.Single(busy.Requests);
        Assert.Contains("busy: HTTP 429", body.GetProperty("attempts").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task Spend_AndCosts_AddUpOverReplicas_SoAKilledReplicasSpendStillCounts()
    {
        await using var fake = await FakeProvider.StartAsync();
        // Each call costs 0.006 USD (1000 input tokens at 2 USD/1M, 500 output at 8 USD/1M): the budget fits one and a half.
        await using var p = await StartAsync(Merge(
            Provider(0, "fake-openai", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "gpt-test", inPrice: 2m, outPrice: 8m),
            new() { ["Providers__Budgets__twice"] = "0.009" }));

        Assert.Equal(HttpStatusCode.OK, (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("one", caller: "twice"))).StatusCode);
        // The answer came after its cost was stored: a kill -9 right after loses none of it.
        await p.KillAndRestartServiceAsync();
        Assert.Equal(HttpStatusCode.OK, (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("two", caller: "twice"))).StatusCode);
        // The new replica adds the killed one's spend to its own: 0.012 of 0.009.
        var refused = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("three", caller: "twice"));
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);

        var costs = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/costs?groupBy=caller");
        Assert.Equal(0.012m, costs.GetProperty("totalUsd").GetDecimal());
        Assert.Equal(2, costs.GetProperty("groups")[0].GetProperty("calls").GetInt32());
        Assert.Equal(2, fake.Requests.Count);
    }

    [Fact]
    public async Task Streaming_DeliversThePiecesInOrder_ThroughOurApiAndTheOfficialOpenAiSdk()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Reply = "one two three four five";
        await using var p = await StartAsync(Provider(0, "fake-openai", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "gpt-test"));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/providers/complete") { Content = JsonContent.Create(Ask("count", stream: true)) };
        using var response = await p.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var deltas = new List<string>();
        JsonElement? done = null;
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            string? kind = null;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal)) { kind = line[7..]; }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var data = JsonDocument.Parse(line[6..]).RootElement.Clone();
                    if (kind == "delta") { deltas.Add(data.GetProperty("text").GetString()!); } else { done = data; }
                }
            }
        }
        Assert.Equal("one two three four five", string.Concat(deltas).Trim());
        Assert.True(deltas.Count >= 5);
        Assert.Equal(7, done!.Value.GetProperty("usage").GetProperty("outputTokens").GetInt64());

        var sdk = new ChatClient("gpt-test", new ApiKeyCredential("not-checked"), new OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{p.Port}/v1") });
        ChatCompletion completion = await sdk.CompleteChatAsync([new UserChatMessage("hi from the sdk")]);
        Assert.Equal("one two three four five", completion.Content[0].Text);
        var streamed = new StringBuilder();
        await foreach (var update in sdk.CompleteChatStreamingAsync([new UserChatMessage("stream please")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }
        Assert.Equal("one two three four five", streamed.ToString().Trim());
        var models = await p.Client.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Contains(models.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == "gpt-test");
    }

    [Fact]
    public async Task BadInput_Gets400_AndRecordsNothing_WhileConfigChangesNeedTheCurrentETag()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var p = await StartAsync(Merge(
            Provider(0, "fake-openai", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "gpt-test"),
            new() { ["Providers__MaxPromptCharacters"] = "1000" }));

        async Task Bad(object body)
        {
            var response = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        await Bad(new { messages = Array.Empty<object>() });
        await Bad(Ask("x", maxTokens: -5));
        await Bad(Ask("x", new { providers = new[] { "nobody" } }));
        await Bad(Ask(new string('x', 2000)));
        await Bad(new { messages = new[] { new { role = "wizard", content = "x" } } });
        var openAiBad = await p.Client.PostAsJsonAsync("/v1/chat/completions", new { model = "gpt-test", messages = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.BadRequest, openAiBad.StatusCode);
        Assert.True((await openAiBad.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("error", out _));
        Assert.Empty(fake.Requests);
        Assert.Equal(0, (await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/costs")).GetProperty("calls").GetInt32());

        var current = await p.Client.GetAsync("/api/v1/providers/fake-openai");
        var etag = current.Headers.ETag!.Tag;
        var config = new { kind = "openai-compatible", endpoint = $"http://127.0.0.1:{fake.Port}/v1", apiKeySecret = "provider-openai-key", enabled = false, models = new[] { new { name = "gpt-test", inputPricePer1M = 1, outputPricePer1M = 1 } } };
        using var stale = new HttpRequestMessage(HttpMethod.Put, "/api/v1/providers/fake-openai/config") { Content = JsonContent.Create(config) };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"not-the-version\"");
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await p.Client.SendAsync(stale)).StatusCode);
        using var invalid = new HttpRequestMessage(HttpMethod.Put, "/api/v1/providers/fake-openai/config") { Content = JsonContent.Create(new { kind = "carrier-pigeon", models = Array.Empty<object>() }) };
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Client.SendAsync(invalid)).StatusCode);
        using var good = new HttpRequestMessage(HttpMethod.Put, "/api/v1/providers/fake-openai/config") { Content = JsonContent.Create(config) };
        good.Headers.TryAddWithoutValidation("If-Match", etag);
        var saved = await p.Client.SendAsync(good);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        Assert.NotEqual(etag, saved.Headers.ETag!.Tag);

        var after = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("who answers now"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("local", after.GetProperty("provider").GetString());
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task ProviderSettings_MayNotReachOtherSecrets_OrInternalAddresses()
    {
        // The service as it runs by default: no private endpoints allowed.
        await using var p = await StartAsync(new() { ["Providers__AllowPrivateEndpoints"] = "false" });
        var models = new[] { new { name = "m", inputPricePer1M = 1, outputPricePer1M = 1 } };

        async Task Refused(object config, string expected)
        {
            var response = await p.Client.PutAsJsonAsync("/api/v1/providers/local/config", config);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(expected, await response.Content.ReadAsStringAsync());
        }
        // An admin pointing a provider at the gateway's signing key, or at loopback, metadata or private addresses.
        await Refused(new { kind = "openai", endpoint = "https://api.openai.com/v1", apiKeySecret = "gateway-jwt-signing-key", models }, "provider-");
        await Refused(new { kind = "openai", endpoint = "http://127.0.0.1:9/v1", apiKeySecret = "provider-openai-key", models }, "AllowPrivateEndpoints");
        await Refused(new { kind = "openai", endpoint = "http://localhost:9/v1", models }, "AllowPrivateEndpoints");
        await Refused(new { kind = "openai", endpoint = "http://169.254.169.254/latest", models }, "AllowPrivateEndpoints");
        await Refused(new { kind = "openai", endpoint = "http://[::1]:9/v1", models }, "AllowPrivateEndpoints");
        await Refused(new { kind = "openai", endpoint = "http://10.1.2.3/v1", models }, "AllowPrivateEndpoints");
        await Refused(new { kind = "openai", endpoint = "http://api.openai.com/v1", apiKeySecret = "provider-openai-key", models }, "https");

        // Nothing changed; a public https endpoint with a provider secret is accepted.
        var unchanged = await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/local");
        Assert.Equal("local", unchanged.GetProperty("kind").GetString());
        var unconditional = await p.Client.PutAsJsonAsync("/api/v1/providers/local/config", new { kind = "openai", endpoint = "https://api.openai.com/v1", apiKeySecret = "provider-openai-key", enabled = false, models });
        Assert.Equal(HttpStatusCode.PreconditionRequired, unconditional.StatusCode);
        var etag = (await p.Client.GetAsync("/api/v1/providers/local")).Headers.ETag!.Tag;
        using var conditional = new HttpRequestMessage(HttpMethod.Put, "/api/v1/providers/local/config")
        {
            Content = JsonContent.Create(new { kind = "openai", endpoint = "https://api.openai.com/v1", apiKeySecret = "provider-openai-key", enabled = false, models }),
        };
        conditional.Headers.TryAddWithoutValidation("If-Match", etag);
        var accepted = await p.Client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("provider-openai-key", (await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/local")).GetProperty("apiKeySecret").GetString());
    }

    [Fact]
    public async Task TimeoutsAndUnreadableKeys_FallBack_WhileARejectedStreamIsNotRetriedElsewhere()
    {
        await using var slow = await FakeProvider.StartAsync();
        await using var picky = await FakeProvider.StartAsync();
        var settings = Merge(
            Provider(0, "slow", "openai-compatible", $"http://127.0.0.1:{slow.Port}/v1", "provider-openai-key", "m", priority: 1),
            Provider(1, "keyless", "openai-compatible", $"http://127.0.0.1:{picky.Port}/v1", "provider-not-in-the-store", "m", priority: 2),
            Provider(2, "picky", "openai-compatible", $"http://127.0.0.1:{picky.Port}/v1", "provider-openai-key", "m", priority: 3),
            new() { ["Providers__Items__0__TimeoutSeconds"] = "1", ["Providers__Retries"] = "0" });
        await using var p = await StartAsync(settings);

        // The slow provider times out and the keyless one cannot be made: both fall back (a missing key is the
        // provider's trouble, not a 502 for the caller), and the third answers.
        slow.Script.Enqueue("slow:3000");
        var answer = await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("who is there"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("picky", answer.GetProperty("provider").GetString());
        var attempts = answer.GetProperty("attempts").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Contains("slow: timed out", attempts);
        Assert.Contains(attempts, a => a!.StartsWith("keyless: unavailable", StringComparison.Ordinal));

        // A stream the provider refuses as a bad request (400) is the request's fault: 502, not another provider.
        // On a loaded machine the first call can time out before the slow provider even took its script step:
        // nothing of it may be left for this call.
        slow.Script.Clear();
        slow.Script.Enqueue("400");
        var rejected = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("refuse me", new { providers = new[] { "slow", "picky" } }, stream: true));
        Assert.Equal(HttpStatusCode.BadGateway, rejected.StatusCode);
        Assert.Single(picky.Requests);
    }

    [Fact]
    public async Task CallerLimits_AndProviderTokenLimits_Refuse_WithoutSpendingOtherPermits()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var p = await StartAsync(Merge(
            Provider(0, "small", "openai-compatible", $"http://127.0.0.1:{fake.Port}/v1", "provider-openai-key", "m", priority: 1, rpm: 3),
            new() { ["Providers__Items__0__Tpm"] = "1000", ["Providers__CallerRpm"] = "4" }));

        async Task<JsonElement> Complete(int maxTokens, string caller) =>
            await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("count me", new { providers = new[] { "small", "local" } }, caller: caller, maxTokens: maxTokens))).Content.ReadFromJsonAsync<JsonElement>();

        // 900 tokens fit the 1,000-token bucket once; the second is refused for its tokens and goes to the local
        // provider, and that refusal spends none of the provider's 3 requests.
        async Task<int> RemainingRequests() => (await p.Client.GetFromJsonAsync<JsonElement>("/api/v1/providers/status")).EnumerateArray()
            .Single(s => s.GetProperty("id").GetString() == "small").GetProperty("remainingRequests").GetInt32();
        Assert.Equal("small", (await Complete(900, "c1")).GetProperty("provider").GetString());
        var before = await RemainingRequests();
        Assert.Equal("local", (await Complete(900, "c2")).GetProperty("provider").GetString());
        // The bucket only refills meanwhile, so fewer requests than before means the refusal spent one.
        Assert.True(await RemainingRequests() >= before, "a call refused for its tokens spent a request permit");

        // A caller over its own requests per minute gets 429 with Retry-After.
        for (var i = 0; i < 4; i++)
        {
            await Complete(1, "greedy");
        }
        var limited = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("once more", caller: "greedy"));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task Strategies_PickDifferently_AndCircuitAndBudgetEventsArePublished()
    {
        await using var cheap = await FakeProvider.StartAsync();
        await using var dear = await FakeProvider.StartAsync();
        cheap.Reply = "cheap";
        dear.Reply = "dear";
        await using var p = await StartAsync(Merge(
            Provider(0, "dear", "openai-compatible", $"http://127.0.0.1:{dear.Port}/v1", "provider-openai-key", "m", inPrice: 10m, outPrice: 30m, priority: 1),
            Provider(1, "cheap", "openai-compatible", $"http://127.0.0.1:{cheap.Port}/v1", "provider-openai-key", "m", inPrice: 0.1m, outPrice: 0.2m, priority: 2),
            new() { ["Providers__Retries"] = "0", ["Providers__BreakerMinimumThroughput"] = "2", ["Providers__Budgets__thrifty"] = "0.00001" }), pubsub: "redis");
        var events = new System.Collections.Concurrent.ConcurrentQueue<(string Topic, string Body)>();
        await using var watcher = await AgenticFlow.LocalRuntime.Tests.Infrastructure.TestApp.StartAsync((web, _) =>
        {
            foreach (var topic in new[] { "providers.circuit-opened", "providers.budget-exceeded" })
            {
                Microsoft.AspNetCore.Builder.EndpointRouteBuilderExtensions.MapPost(web, "/" + topic, async (Microsoft.AspNetCore.Http.HttpRequest r) =>
                {
                    using var reader = new StreamReader(r.Body);
                    events.Enqueue((topic, await reader.ReadToEndAsync()));
                    return Microsoft.AspNetCore.Http.Results.Ok();
                }).WithTopic("pubsub", topic);
            }
        });
        await using var watcherSidecar = await AgenticFlow.LocalRuntime.Tests.Infrastructure.TestSidecar.StartAsync(
            AgenticFlow.LocalRuntime.Tests.Infrastructure.TestServers.NewId("watcher"), p.ComponentsPath, watcher.Port);

        async Task<string> Picked(object? routing, string caller = "agent-1") =>
            (await (await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("pick one", routing, caller))).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("provider").GetString()!;

        Assert.Equal("dear", await Picked(new { strategy = "priority" }));
        Assert.Equal("cheap", await Picked(new { strategy = "cheapest" }));
        Assert.Equal("cheap", await Picked(new { strategy = "priority", maxCostUsd = 0.001 }));

        await Picked(new { providers = new[] { "cheap" } }, caller: "thrifty");
        var refused = await p.Client.PostAsJsonAsync("/api/v1/providers/complete", Ask("again", caller: "thrifty"));
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);

        for (var i = 0; i < 3; i++)
        {
            dear.Script.Enqueue("500");
        }
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("cheap", await Picked(new { strategy = "priority" }));
        }

        await AgenticFlow.LocalRuntime.Tests.Infrastructure.Eventually.True(() => events.Any(e => e.Topic == "providers.circuit-opened") && events.Any(e => e.Topic == "providers.budget-exceeded"), "both events");
        Assert.Contains("dear", events.First(e => e.Topic == "providers.circuit-opened").Body);
        Assert.Contains("thrifty", events.First(e => e.Topic == "providers.budget-exceeded").Body);
    }
}
