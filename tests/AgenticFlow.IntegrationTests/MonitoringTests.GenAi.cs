using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// The GenAI client metrics per agent and model: real chat completions through the gateway by two agents' keys on two
/// models of the fake provider, exported by the providers service to monitoring, read back with <c>groupBy</c>.
/// </summary>
public sealed partial class MonitoringTests
{
    private const string TokenUsage = "gen_ai.client.token.usage", Duration = "gen_ai.client.operation.duration", AgentKey = "agenticflow.agent.id", ModelKey = "gen_ai.request.model";

    private async Task<JsonElement> MetricsAsync(string query)
    {
        using var response = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Get, "/api/v1/metrics?" + query, "dev-viewer-key"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Each series' single value (the query asks for one step over the last hour), keyed by its labels.</summary>
    private static Dictionary<string, double> ByLabels(JsonElement result, params string[] keys) =>
        result.GetProperty("series").EnumerateArray().ToDictionary(
            s => string.Join("/", keys.Select(k => s.GetProperty("labels").GetProperty(k).GetString())),
            s => s.GetProperty("points").EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));

    [Fact]
    public async Task GenAiTokenUsage_GroupedByAgentModelAndTokenType_SumsEachCallersTokens()
    {
        await fixture.GenAiTrafficAsync();
        var expected = new Dictionary<string, double>();
        foreach (var (_, agent, model, calls) in MonitoringPlatform.GenAiCalls)
        {
            expected[$"{agent}/{model}/input"] = expected.GetValueOrDefault($"{agent}/{model}/input") + calls * 1000;
            expected[$"{agent}/{model}/output"] = expected.GetValueOrDefault($"{agent}/{model}/output") + calls * 500;
        }
        var grouped = $"name={TokenUsage}&service=providers&agg=sum&from=-1h&step=1h&groupBy={AgentKey},{ModelKey},gen_ai.token.type";
        Dictionary<string, double> sums = [];
        await Eventually.True(async () =>
        {
            sums = ByLabels(await MetricsAsync(grouped), AgentKey, ModelKey, "gen_ai.token.type");
            return expected.All(e => sums.GetValueOrDefault(e.Key) == e.Value);
        }, "the providers service's token usage to reach monitoring, per agent, model and token type", 90);
        Assert.Equal(expected.OrderBy(e => e.Key), sums.Where(s => s.Key.StartsWith("a1/", StringComparison.Ordinal) || s.Key.StartsWith("a2/", StringComparison.Ordinal)).OrderBy(e => e.Key));

        // Grouped by model alone, and filtered to one agent: the same points summed the other way.
        var byModel = ByLabels(await MetricsAsync($"name={TokenUsage}&service=providers&agg=sum&from=-1h&step=1h&groupBy={ModelKey}&tag=gen_ai.token.type%3Dinput"), ModelKey);
        Assert.Equal((2000.0, 4000.0), (byModel[MonitoringPlatform.ModelA], byModel[MonitoringPlatform.ModelB]));
        var a2 = await MetricsAsync($"name={TokenUsage}&agg=sum&from=-1h&step=1h&groupBy=service,{ModelKey}&tag={AgentKey}%3Da2");
        var only = Assert.Single(a2.GetProperty("series").EnumerateArray(), s => s.GetProperty("service").GetString() == "providers");
        Assert.Equal(MonitoringPlatform.ModelB, only.GetProperty("labels").GetProperty(ModelKey).GetString());
        Assert.Equal(3 * 1500.0, only.GetProperty("points").EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));
        Assert.Equal([AgentKey, ModelKey], (await MetricsAsync(grouped.Replace(",gen_ai.token.type", ""))).GetProperty("groupBy").EnumerateArray().Select(k => k.GetString()));

        // Latency per agent and model: every pair has a count of its calls and a positive p99.
        var counts = ByLabels(await MetricsAsync($"name={Duration}&service=providers&agg=count&from=-1h&step=1h&groupBy={AgentKey},{ModelKey}"), AgentKey, ModelKey);
        Assert.Equal((2.0, 1.0, 3.0), (counts[$"a1/{MonitoringPlatform.ModelA}"], counts[$"a1/{MonitoringPlatform.ModelB}"], counts[$"a2/{MonitoringPlatform.ModelB}"]));
        var p99 = ByLabels(await MetricsAsync($"name={Duration}&service=providers&agg=p99&from=-1h&step=1h&groupBy={AgentKey},{ModelKey}"), AgentKey, ModelKey);
        Assert.True(p99[$"a2/{MonitoringPlatform.ModelB}"] > 0);
    }

    [Theory]
    [InlineData("name=gen_ai.client.token.usage&groupBy=")]
    [InlineData("name=gen_ai.client.token.usage&groupBy=a,,b")]
    [InlineData("name=gen_ai.client.token.usage&groupBy=a,a")]
    [InlineData("name=gen_ai.client.token.usage&groupBy=a,b,c,d,e,f")]
    [InlineData("groupBy=service")]
    [InlineData("name=gen_ai.client.token.usage&tag=nokeyvalue&groupBy=service")]
    public async Task MetricsQuery_WithABadGroupByOrFilter_IsAValidationProblem(string query)
    {
        using var response = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Get, "/api/v1/metrics?" + query, "dev-viewer-key"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("https://agenticflow.dev/problems/validation", problem.GetProperty("type").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(query.Contains("tag=") ? "tag" : "groupBy", out _));
    }

    [Fact]
    public async Task MetricsQuery_GroupedAsPrometheusText_IsAValidationProblem_NotAnUngroupedAnswer()
    {
        using var request = Platform.Request(HttpMethod.Get, "/api/v1/metrics?name=gen_ai.client.token.usage&groupBy=agenticflow.agent.id", "dev-viewer-key");
        request.Headers.Accept.ParseAdd("text/plain");
        using var response = await Platform.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("groupBy", await response.Content.ReadAsStringAsync());
    }
}
