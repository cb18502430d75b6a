using System.Text.Json;
using AgenticFlow.Agents.Domain;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Llm;

/// <summary>
/// Runs a task or a vote for an llm agent on Microsoft Agent Framework: a <see cref="ChatClientAgent"/> with the
/// agent's system prompt and tools over <see cref="ProvidersChatClient"/>. The run's session (its conversation) is
/// serialized into the outcome for the actor to keep, and a stored session is resumed rather than started afresh.
/// Tools are declarations: the model may call them, and the calls come back in the task's output for the caller to
/// act on (the platform runs no code of the agent's).
/// </summary>
public sealed class LlmWork(Clients.ServiceInvoker invoker, Dapr.Client.DaprClient dapr, IOptions<AgentsOptions> options, TimeProvider time, ILoggerFactory loggers)
{
    /// <summary>Connections to agents' MCP servers: public addresses only unless Agents:AllowPrivateEndpoints, no redirects.</summary>
    private readonly HttpClient outbound = new(ServiceDefaults.OutboundAddresses.Handler(options.Value.AllowPrivateEndpoints, "MCP server", "Agents:AllowPrivateEndpoints"))
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public AIAgent AgentFor(AgentRecord agent, IEnumerable<AITool>? mcpTools = null)
    {
        var llm = agent.Llm ?? throw new InvalidOperationException($"agent {agent.Id} has no llm settings");
        var client = new ProvidersChatClient(invoker.For(options.Value.ProvidersAppId), agent.Id, llm.Model, llm.ModelClass);
        var tools = llm.Tools
            .Select(t => (AITool)AIFunctionFactory.CreateDeclaration(t.Name, t.Description ?? "", t.Parameters ?? EmptySchema))
            .Concat(mcpTools ?? [])
            .ToList();
        return Instrumented(client, agent, tools, loggers);
    }

    /// <summary>A <see cref="ChatClientAgent"/> whose runs and chat calls are recorded with OpenTelemetry's GenAI
    /// conventions (<c>invoke_agent</c> and <c>chat</c> spans, token usage and duration metrics), named by the agent's id.</summary>
    public static AIAgent Instrumented(IChatClient providers, AgentRecord agent, IList<AITool> tools, ILoggerFactory loggers)
    {
        var chat = providers.AsBuilder()
            .UseOpenTelemetry(loggers, ServiceDefaults.GenAiTelemetry.SourceName)
            .Use(inner => new ServiceDefaults.GenAiMetricsChatClient(inner, _ => agent.Id))
            .Build();
        var framework = new ChatClientAgent(chat, new ChatClientAgentOptions
        {
            Id = agent.Id,
            Name = agent.Name,
            Description = $"AgenticFlow agent {agent.Id}",
            ChatOptions = new ChatOptions { Instructions = agent.Llm?.SystemPrompt, Tools = tools },
        }, loggers);
        return framework.AsBuilder().UseOpenTelemetry(ServiceDefaults.GenAiTelemetry.SourceName).Build();
    }

    private static readonly JsonElement EmptySchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    /// <summary>Runs the work; each MCP tool call is handed to <paramref name="recordCall"/> (stored by the actor) as it
    /// is made, before the model goes on.</summary>
    public async Task<RunOutcome> RunAsync(AgentRecord agent, WorkItem work, Func<ToolCallRecord, JsonElement?, Task> recordCall, CancellationToken ct)
    {
        await using var toolbox = agent.Llm?.McpServers.Count > 0
            ? await McpToolbox.OpenAsync(agent, dapr, options.Value.SecretStore, outbound, work.ToolResults, recordCall, time, loggers, ct)
            : null;
        var framework = AgentFor(agent, toolbox?.Tools);
        var session = work.Session is { } stored
            ? await framework.DeserializeSessionAsync(stored, cancellationToken: ct)
            : await framework.CreateSessionAsync(ct);
        var conversation = work.Conversation.ToList();
        AgentResponse response;
        if (work.Approvals.Count > 0 && work.Approvals.All(a => a.Approved is not null))
        {
            // Resuming a paused run: the decisions go to the Agent Framework, which calls the approved tools and
            // tells the model about the rejected ones.
            var decisions = work.Approvals.Select(a => (AIContent)new ToolApprovalResponseContent(a.Id, a.Approved!.Value,
                new FunctionCallContent(a.CallId, a.Tool, Arguments(a.Arguments))) { Reason = a.Reason }).ToList();
            foreach (var a in work.Approvals)
            {
                conversation.Add(new ConversationMessage("user", $"[{(a.Approved == true ? "approved" : "rejected")} tool call {a.Tool} by {a.DecidedBy}{(a.Reason is { Length: > 0 } r ? ": " + r : "")}]", time.GetUtcNow()));
            }
            response = await framework.RunAsync(new ChatMessage(ChatRole.User, decisions), session, cancellationToken: ct);
        }
        else
        {
            var prompt = work.Kind == WorkKinds.Vote ? VotePrompt(work) : TaskPrompt(work);
            conversation.Add(new ConversationMessage("user", prompt, time.GetUtcNow()));
            response = await framework.RunAsync(prompt, session, cancellationToken: ct);
        }
        foreach (var message in response.Messages)
        {
            conversation.Add(new ConversationMessage(message.Role.Value, Describe(message), time.GetUtcNow()));
        }
        var saved = await framework.SerializeSessionAsync(session, cancellationToken: ct);
        var requests = response.Messages.SelectMany(m => m.Contents).OfType<ToolApprovalRequestContent>().ToList();
        if (requests.Count > 0)
        {
            var pending = requests.Select(r => r.ToolCall is FunctionCallContent call
                ? new PendingApproval(r.RequestId, toolbox?.ServerOf(call.Name) ?? "", call.Name, call.CallId, JsonSerializer.SerializeToElement(call.Arguments, Json), time.GetUtcNow())
                : new PendingApproval(r.RequestId, "", r.ToolCall.GetType().Name, r.ToolCall.CallId, null, time.GetUtcNow())).ToList();
            return new RunOutcome(false, false, saved, conversation, null, null, null, null, null, pending);
        }
        if (work.Kind == WorkKinds.Vote)
        {
            var (choice, reason) = ReadVote(response.Text, work.Options);
            return new RunOutcome(true, false, saved, conversation, null, null, choice, reason);
        }
        // Calls the platform answered (MCP tools) are in the task's toolCalls; the declared ones come back to the caller.
        var answered = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Select(r => r.CallId).ToHashSet(StringComparer.Ordinal);
        var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Where(c => !answered.Contains(c.CallId))
            .Select(c => new { id = c.CallId, name = c.Name, arguments = c.Arguments }).ToList();
        var output = JsonSerializer.SerializeToElement(new { text = response.Text, toolCalls = calls }, Json);
        return new RunOutcome(true, false, saved, conversation, output, null, null, null);
    }

    private static Dictionary<string, object?>? Arguments(JsonElement? arguments) =>
        arguments is { ValueKind: JsonValueKind.Object } a ? a.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone()) : null;

    private static string Describe(ChatMessage message) =>
        string.Join("\n", message.Contents.Select(c => c switch
        {
            TextContent t => t.Text,
            FunctionCallContent call => $"[tool call {call.Name} {JsonSerializer.Serialize(call.Arguments, Json)}]",
            FunctionResultContent result => $"[tool result {result.CallId}: {McpToolbox.Summary(JsonSerializer.Serialize(result.Result, Json))}]",
            ToolApprovalRequestContent request => $"[approval needed for tool call {(request.ToolCall as FunctionCallContent)?.Name}]",
            _ => "",
        }).Where(s => s.Length > 0));

    public static string TaskPrompt(WorkItem work)
    {
        var text = new System.Text.StringBuilder();
        text.Append("Task ").Append(work.Id).Append(": ").AppendLine(work.Description);
        if (work.Input is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } input)
        {
            text.Append("Input: ").AppendLine(input.GetRawText());
        }
        if (work.RequiredCapabilities.Count > 0)
        {
            text.Append("Capabilities asked for: ").AppendLine(string.Join(", ", work.RequiredCapabilities));
        }
        if (work.Deadline is { } deadline)
        {
            text.Append("Deadline: ").AppendLine(deadline.ToString("O"));
        }
        return text.ToString().TrimEnd();
    }

    public static string VotePrompt(WorkItem work) =>
        $"""
        Vote on this proposal: {work.Proposal}
        Options: {string.Join(" | ", work.Options)}
        Answer with one line of JSON: {"{"}"choice": "<one of the options, exactly>", "reason": "<why>"{"}"}
        """;

    /// <summary>The model's choice when it is exactly one of the options; otherwise an abstention with its answer as the reason.</summary>
    public static (string? Choice, string Reason) ReadVote(string answer, IReadOnlyList<string> options)
    {
        var trimmed = answer.Trim();
        var start = trimmed.IndexOf('{');
        var end = trimmed.LastIndexOf('}');
        if (start >= 0 && end > start)
        {
            try
            {
                using var doc = JsonDocument.Parse(trimmed[start..(end + 1)]);
                var choice = doc.RootElement.TryGetProperty("choice", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                var reason = doc.RootElement.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() ?? "" : "";
                if (choice is not null && options.Contains(choice, StringComparer.Ordinal))
                {
                    return (choice, reason);
                }
                return (null, $"abstained: the model chose \"{choice}\", which is not an option. {reason}".Trim());
            }
            catch (JsonException)
            {
            }
        }
        var named = options.Where(o => trimmed.Equals(o, StringComparison.Ordinal)).ToList();
        return named.Count == 1 ? (named[0], "") : (null, $"abstained: the model's answer named no option: {Cut(trimmed)}");
    }

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
