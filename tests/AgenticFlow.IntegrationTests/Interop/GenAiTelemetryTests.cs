using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.IntegrationTests.Interop;

/// <summary>An llm agent's task, end to end, exported by the real services to an OpenTelemetry collector with the
/// GenAI conventions: the providers service's model call and the agents service's agent run, with token metrics.</summary>
[Collection(InteropCollection.Name)]
public sealed class GenAiTelemetryTests(InteropPlatform fixture)
{
    [Fact]
    public async Task LlmTask_ExportsGenAiSpansAndMetrics_FromProvidersAndAgents()
    {
        var agentId = "otel-" + Guid.NewGuid().ToString("N")[..8];
        var teamId = await fixture.LlmTeamAsync(agentId);
        var (taskId, _) = await fixture.Api.SubmitAsync(teamId);
        await Eventually.True(async () => (await fixture.Api.TaskAsync(teamId, taskId)).GetProperty("state").GetString() == "completed", "the llm task to complete", 120);

        var received = fixture.Telemetry;
        // The providers service's call to the model: the OpenAI-compatible client's chat span, charged to the agent.
        await Eventually.True(() => received.Holds("traces", "gen_ai.operation.name", "chat", "gen_ai.provider.name", "openai",
            "gen_ai.request.model", InteropPlatform.Model, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons",
            "agenticflow.caller", agentId), "the providers service's gen_ai chat span", 60);
        // The agents service's run of the agent, and its chat call through providers.
        await Eventually.True(() => received.Holds("traces", "invoke_agent", "gen_ai.agent.id", agentId), "the agents service's invoke_agent span", 60);
        await Eventually.True(() => received.Holds("metrics", "gen_ai.client.token.usage", "gen_ai.client.operation.duration", "gen_ai.token.type"),
            "the gen_ai client metrics", 60);
        // The metrics name the agent the calls were made for (the agents service's chat client, and providers from the
        // caller the agents service named), on the meter that records them with it.
        await Eventually.True(() => received.Holds("metrics", GenAiTelemetry.MetricsMeterName, "gen_ai.client.token.usage", "gen_ai.client.operation.duration",
            GenAiTelemetry.AgentTag, agentId, "gen_ai.request.model", InteropPlatform.Model), "the gen_ai client metrics per agent", 60);
    }
}
