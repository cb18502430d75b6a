namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// The activity source and meter every LLM call is recorded on, following OpenTelemetry's GenAI semantic conventions
/// (<c>gen_ai.*</c> spans, <c>gen_ai.client.token.usage</c> and <c>gen_ai.client.operation.duration</c>): the
/// providers service's calls to models and the agents service's agent runs and chat calls. It matches the
/// <c>AgenticFlow.*</c> sources and meters <see cref="Extensions.ConfigureOpenTelemetry"/> listens to.
/// </summary>
public static class GenAiTelemetry
{
    public const string SourceName = "AgenticFlow.GenAI";

    /// <summary>The meter of <see cref="GenAiMetricsChatClient"/>: the GenAI client metrics with the agent attribute.</summary>
    public const string MetricsMeterName = "AgenticFlow.GenAI.Usage";

    public const string TokenUsage = "gen_ai.client.token.usage";
    public const string OperationDuration = "gen_ai.client.operation.duration";

    /// <summary>Tag naming the platform agent (or other caller) an LLM call was made for, so usage is seen per agent.</summary>
    public const string CallerTag = "agenticflow.caller";

    /// <summary>Metric attribute naming the agent an LLM call was made for. Its values are bounded: the agent ids the
    /// gateway authenticated or a service named, <c>role:&lt;role&gt;</c> for other gateway callers, <c>service:&lt;app id&gt;</c>,
    /// and <c>other</c> once a process has seen its limit of distinct ids (see the providers service's AgentLabels).</summary>
    public const string AgentTag = "agenticflow.agent.id";
}
