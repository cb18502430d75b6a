using System.Diagnostics;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.AI;

namespace AgenticFlow.Providers.Clients;

/// <summary>
/// Every provider client records its calls with OpenTelemetry's GenAI conventions (Microsoft.Extensions.AI's
/// <c>UseOpenTelemetry</c>): a <c>chat {model}</c> span with <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c>,
/// request and response model, token usage and finish reasons, and the <c>gen_ai.client.*</c> metrics. The caller the
/// call is charged to rides in the options to the span as <see cref="GenAiTelemetry.CallerTag"/>, and the agent the call
/// was made for (<see cref="Domain.AgentLabels"/>) to the metrics as <see cref="GenAiTelemetry.AgentTag"/>
/// (<see cref="GenAiMetricsChatClient"/>); neither goes further.
/// </summary>
public static class GenAiInstrumentation
{
    public static IChatClient Instrument(IChatClient client) =>
        client.AsBuilder()
            .UseOpenTelemetry(sourceName: GenAiTelemetry.SourceName)
            .Use(inner => new GenAiMetricsChatClient(inner, AgentOf))
            .Use(inner => new CallerTagging(inner))
            .Build();

    /// <summary>Options naming the caller for the span and the agent for the metrics.</summary>
    public static ChatOptions WithCaller(ChatOptions options, string caller, string agent)
    {
        options.AdditionalProperties ??= [];
        options.AdditionalProperties[GenAiTelemetry.CallerTag] = caller;
        options.AdditionalProperties[GenAiTelemetry.AgentTag] = agent;
        return options;
    }

    private static string AgentOf(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(GenAiTelemetry.AgentTag, out var agent) == true && agent is string name ? name : Domain.AgentLabels.Other;

    /// <summary>Runs inside the GenAI span: tags it with the caller and strips the caller from the options, so the
    /// provider never sees it.</summary>
    private sealed class CallerTagging(IChatClient inner) : DelegatingChatClient(inner)
    {
        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            base.GetResponseAsync(messages, Strip(options), cancellationToken);

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            base.GetStreamingResponseAsync(messages, Strip(options), cancellationToken);

        private static ChatOptions? Strip(ChatOptions? options)
        {
            if (options?.AdditionalProperties is not { } extra || !(extra.ContainsKey(GenAiTelemetry.CallerTag) || extra.ContainsKey(GenAiTelemetry.AgentTag)))
            {
                return options;
            }
            if (extra.TryGetValue(GenAiTelemetry.CallerTag, out var caller))
            {
                Activity.Current?.SetTag(GenAiTelemetry.CallerTag, caller);
            }
            var stripped = options.Clone();
            stripped.AdditionalProperties!.Remove(GenAiTelemetry.CallerTag);
            stripped.AdditionalProperties.Remove(GenAiTelemetry.AgentTag);
            if (stripped.AdditionalProperties.Count == 0)
            {
                stripped.AdditionalProperties = null;
            }
            return stripped;
        }
    }
}
