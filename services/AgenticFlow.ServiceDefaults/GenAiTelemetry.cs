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

    /// <summary>Tag naming the platform agent (or other caller) an LLM call was made for, so usage is seen per agent.</summary>
    public const string CallerTag = "agenticflow.caller";
}
