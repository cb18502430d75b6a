using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using AgenticFlow.Agents.Domain;
using AgenticFlow.Agents.Llm;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticFlow.Agents.Tests;

/// <summary>An llm agent's run, as the agents service builds it, recorded with OpenTelemetry's GenAI conventions:
/// an <c>invoke_agent</c> span for the run and a <c>chat</c> span per model call, with token usage and duration metrics.</summary>
public sealed class GenAiTelemetryTests
{
    private sealed class ProvidersDouble : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("""{"text":"Three points.","toolCalls":[],"provider":"fake","model":"gpt-test-2025","usage":{"inputTokens":31,"outputTokens":7},"finishReason":"stop"}""", Encoding.UTF8, "application/json"),
            });
    }

    [Fact]
    public async Task AgentRun_EmitsGenAiSpansAndMetrics_WithModelUsageAndFinishReason()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GenAiTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (spans) { spans.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);
        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GenAiTelemetry.SourceName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => { lock (measurements) { measurements.Add((i.Name, v, Tags(tags))); } });
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => { lock (measurements) { measurements.Add((i.Name, v, Tags(tags))); } });
        meters.SetMeasurementEventCallback<int>((i, v, tags, _) => { lock (measurements) { measurements.Add((i.Name, v, Tags(tags))); } });
        meters.Start();

        var agentId = "otel-" + Guid.NewGuid().ToString("N")[..6];
        var agent = new AgentRecord
        {
            Id = agentId, Name = "Telemetry writer", Kind = AgentKinds.Llm, Capabilities = [], MaxConcurrentTasks = 1,
            Labels = new Dictionary<string, string>(), Llm = new LlmSettings("gpt-test", null, "You summarise.", []),
        };
        var providers = new ProvidersChatClient(new HttpClient(new ProvidersDouble()) { BaseAddress = new Uri("http://providers/") }, agentId, "gpt-test", null);
        var framework = LlmWork.Instrumented(providers, agent, [], NullLoggerFactory.Instance);

        var response = await framework.RunAsync("Summarise the report");
        Assert.Equal("Three points.", response.Text);

        List<Activity> mine;
        lock (spans)
        {
            mine = spans.ToList();
        }
        var chat = Assert.Single(mine, a => (string?)a.GetTagItem("gen_ai.operation.name") == "chat" && (string?)a.GetTagItem("gen_ai.request.model") == "gpt-test");
        Assert.Equal("agenticflow", chat.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("gpt-test-2025", chat.GetTagItem("gen_ai.response.model"));
        Assert.Equal(31L, Convert.ToInt64(chat.GetTagItem("gen_ai.usage.input_tokens")));
        Assert.Equal(7L, Convert.ToInt64(chat.GetTagItem("gen_ai.usage.output_tokens")));
        Assert.Contains("stop", string.Join(",", (chat.GetTagItem("gen_ai.response.finish_reasons") as IEnumerable<string>) ?? [chat.GetTagItem("gen_ai.response.finish_reasons")?.ToString() ?? ""]));

        var run = Assert.Single(mine, a => (string?)a.GetTagItem("gen_ai.operation.name") == "invoke_agent" && (string?)a.GetTagItem("gen_ai.agent.id") == agentId);
        Assert.Equal("Telemetry writer", run.GetTagItem("gen_ai.agent.name"));
        Assert.Equal(run.SpanId, chat.ParentSpanId);

        lock (measurements)
        {
            var tokens = measurements.Where(m => m.Instrument == "gen_ai.client.token.usage" && (string?)m.Tags.GetValueOrDefault("gen_ai.request.model") == "gpt-test").ToList();
            Assert.Contains(tokens, m => (string?)m.Tags["gen_ai.token.type"] == "input" && m.Value == 31);
            Assert.Contains(tokens, m => (string?)m.Tags["gen_ai.token.type"] == "output" && m.Value == 7);
            Assert.Contains(measurements, m => m.Instrument == "gen_ai.client.operation.duration" && (string?)m.Tags.GetValueOrDefault("gen_ai.operation.name") == "chat");
        }
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var all = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            all[tag.Key] = tag.Value;
        }
        return all;
    }
}
