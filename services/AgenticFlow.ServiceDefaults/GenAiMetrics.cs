using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// Records OpenTelemetry's GenAI client metrics, <c>gen_ai.client.token.usage</c> (by <c>gen_ai.token.type</c> input
/// or output) and <c>gen_ai.client.operation.duration</c>, with the conventions' attributes (<c>gen_ai.operation.name</c>,
/// <c>gen_ai.provider.name</c>, <c>gen_ai.request.model</c>, <c>gen_ai.response.model</c>, <c>error.type</c>) and
/// <see cref="GenAiTelemetry.AgentTag"/>, the platform agent the call was made for, so usage and latency can be read
/// per agent and per model. Microsoft.Extensions.AI's <c>UseOpenTelemetry</c> records the same two instruments
/// without that attribute; <see cref="Extensions.ConfigureOpenTelemetry"/> drops those, so each call is counted once.
/// </summary>
public sealed class GenAiMetricsChatClient(IChatClient inner, Func<ChatOptions?, string> agentOf) : DelegatingChatClient(inner)
{
    private static readonly Meter Meter = new(GenAiTelemetry.MetricsMeterName);

    private static readonly Histogram<long> Tokens = Meter.CreateHistogram<long>(GenAiTelemetry.TokenUsage, "{token}",
        "Number of input and output tokens used.", tags: null,
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] });

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(GenAiTelemetry.OperationDuration, "s",
        "GenAI operation duration.", tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });

    private readonly ChatClientMetadata? _metadata = inner.GetService<ChatClientMetadata>();

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var agent = agentOf(options);
        var started = Stopwatch.GetTimestamp();
        ChatResponse? response = null;
        Exception? error = null;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken);
            return response;
        }
        catch (Exception ex)
        {
            error = ex;
            throw;
        }
        finally
        {
            Record(options, agent, response?.ModelId, response?.Usage, error, Stopwatch.GetElapsedTime(started));
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var agent = agentOf(options);
        var started = Stopwatch.GetTimestamp();
        string? model = null;
        UsageDetails? usage = null;
        Exception? error = null;
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        break;
                    }
                    update = updates.Current;
                }
                catch (Exception ex)
                {
                    error = ex;
                    throw;
                }
                model ??= update.ModelId;
                foreach (var reported in update.Contents.OfType<UsageContent>())
                {
                    usage ??= new UsageDetails();
                    usage.Add(reported.Details);
                }
                yield return update;
            }
        }
        finally
        {
            Record(options, agent, model, usage, error, Stopwatch.GetElapsedTime(started));
            await updates.DisposeAsync();
        }
    }

    private void Record(ChatOptions? options, string agent, string? responseModel, UsageDetails? usage, Exception? error, TimeSpan took)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { GenAiTelemetry.AgentTag, agent },
        };
        if (_metadata?.ProviderName is { } provider)
        {
            tags.Add("gen_ai.provider.name", provider);
        }
        if ((options?.ModelId ?? _metadata?.DefaultModelId) is { } requested)
        {
            tags.Add("gen_ai.request.model", requested);
        }
        if (responseModel is not null)
        {
            tags.Add("gen_ai.response.model", responseModel);
        }
        if (error is not null)
        {
            tags.Add("error.type", error is OperationCanceledException ? "cancelled" : error.GetType().Name);
        }
        Duration.Record(took.TotalSeconds, tags);
        if (usage?.InputTokenCount is { } input)
        {
            var withType = tags;
            withType.Add("gen_ai.token.type", "input");
            Tokens.Record(input, withType);
        }
        if (usage?.OutputTokenCount is { } output)
        {
            var withType = tags;
            withType.Add("gen_ai.token.type", "output");
            Tokens.Record(output, withType);
        }
    }
}
