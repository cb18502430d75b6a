using System.Diagnostics.Metrics;
using Microsoft.Extensions.AI;

namespace AgenticFlow.ServiceDefaults.Tests;

/// <summary>The GenAI client metrics with the agent attribute, read with a MeterListener as an exporter would.</summary>
public sealed class GenAiMetricsTests
{
    private sealed class ScriptedClient(string model) : IChatClient
    {
        public Exception? Fail { get; set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Fail is { } error ? Task.FromException<ChatResponse>(error) : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi"))
            {
                ModelId = model,
                Usage = new UsageDetails { InputTokenCount = 120, OutputTokenCount = 30 },
            });

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "h") { ModelId = model };
            yield return new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3 })] };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("openai", null, "default-model") : null;

        public void Dispose()
        {
        }
    }

    private static List<(string Instrument, double Value, Dictionary<string, string?> Tags)> Listen(out MeterListener listener)
    {
        var seen = new List<(string, double, Dictionary<string, string?>)>();
        listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GenAiTelemetry.MetricsMeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = tags.ToArray().ToDictionary(t => t.Key, t => t.Value?.ToString());
            lock (seen)
            {
                seen.Add((instrument.Name, value, copy));
            }
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        listener.Start();
        return seen;
    }

    [Fact]
    public async Task ACall_RecordsTokensByTypeAndItsDuration_WithTheAgentAndModels()
    {
        var seen = Listen(out var listener);
        using var _ = listener;
        var agent = "agent-" + Guid.NewGuid().ToString("N")[..8];
        using var client = new GenAiMetricsChatClient(new ScriptedClient("served-model"), _ => agent);
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")], new ChatOptions { ModelId = "asked-model" });

        var mine = seen.Where(s => s.Tags.GetValueOrDefault(GenAiTelemetry.AgentTag) == agent).ToList();
        var tokens = mine.Where(s => s.Instrument == GenAiTelemetry.TokenUsage).ToDictionary(s => s.Tags["gen_ai.token.type"]!, s => s.Value);
        Assert.Equal(new Dictionary<string, double> { ["input"] = 120, ["output"] = 30 }, tokens);
        var duration = Assert.Single(mine, s => s.Instrument == GenAiTelemetry.OperationDuration);
        Assert.True(duration.Value >= 0);
        foreach (var (_, _, tags) in mine)
        {
            Assert.Equal(("chat", "openai", "asked-model", "served-model"),
                (tags["gen_ai.operation.name"], tags["gen_ai.provider.name"], tags["gen_ai.request.model"], tags["gen_ai.response.model"]));
            Assert.False(tags.ContainsKey("error.type"));
        }
    }

    [Fact]
    public async Task AStream_CountsTheUsageItReports_AndAFailure_IsADurationWithItsErrorType()
    {
        var seen = Listen(out var listener);
        using var _ = listener;
        var agent = "agent-" + Guid.NewGuid().ToString("N")[..8];
        var scripted = new ScriptedClient("served-model");
        using var client = new GenAiMetricsChatClient(scripted, _ => agent);
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello")]))
        {
            Assert.NotNull(update);
        }
        var streamed = seen.Where(s => s.Tags.GetValueOrDefault(GenAiTelemetry.AgentTag) == agent && s.Instrument == GenAiTelemetry.TokenUsage)
            .ToDictionary(s => s.Tags["gen_ai.token.type"]!, s => (s.Value, s.Tags["gen_ai.request.model"]));
        Assert.Equal(new Dictionary<string, (double, string?)> { ["input"] = (7, "default-model"), ["output"] = (3, "default-model") }, streamed);

        scripted.Fail = new TimeoutException("upstream");
        await Assert.ThrowsAsync<TimeoutException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "again")]));
        var failed = seen.Where(s => s.Tags.GetValueOrDefault(GenAiTelemetry.AgentTag) == agent && s.Tags.ContainsKey("error.type")).ToList();
        Assert.Equal(GenAiTelemetry.OperationDuration, Assert.Single(failed).Instrument);
        Assert.Equal("TimeoutException", failed[0].Tags["error.type"]);
    }
}
