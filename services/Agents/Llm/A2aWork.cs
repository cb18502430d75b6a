using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.Agents.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Llm;

/// <summary>
/// Runs a task or a vote on a remote agent with the Agent2Agent protocol: reads its agent card, sends the work as a
/// message to the card's JSON-RPC endpoint (1.0's <c>SendMessage</c> when the card lists <c>supportedInterfaces</c>,
/// 0.3's <c>message/send</c> otherwise), and reads the task back with <c>GetTask</c>/<c>tasks/get</c> until it ends.
/// The work id is the message id, so a remote agent that deduplicates messages sees a retried run as the same one.
/// </summary>
public sealed class A2aWork(IHttpClientFactory clients, IOptions<AgentsOptions> options, TimeProvider time)
{
    public const string ClientName = "a2a-agents";

    public async Task<RunOutcome> RunAsync(AgentRecord agent, WorkItem work, CancellationToken ct)
    {
        var http = clients.CreateClient(ClientName);
        var card = await http.GetFromJsonAsync<JsonElement>(agent.A2a!.CardUrl, ct);
        var (endpoint, v1) = Endpoint(card, agent.A2a.CardUrl);
        var prompt = work.Kind == WorkKinds.Vote ? LlmWork.VotePrompt(work) : LlmWork.TaskPrompt(work);
        var parts = new JsonArray(v1 ? new JsonObject { ["text"] = prompt } : new JsonObject { ["kind"] = "text", ["text"] = prompt });
        if (work.Input is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } input)
        {
            var data = JsonNode.Parse(input.GetRawText());
            parts.Add(v1 ? new JsonObject { ["data"] = data } : new JsonObject { ["kind"] = "data", ["data"] = data });
        }
        var message = new JsonObject { ["role"] = v1 ? "ROLE_USER" : "user", ["parts"] = parts, ["messageId"] = work.Id };
        if (!v1)
        {
            message["kind"] = "message";
        }
        var conversation = work.Conversation.ToList();
        conversation.Add(new ConversationMessage("user", prompt, time.GetUtcNow()));
        var result = await CallAsync(http, endpoint, v1 ? "SendMessage" : "message/send", new JsonObject { ["message"] = message }, ct);
        // 1.0 wraps the answer ({"task": …} or {"message": …}); 0.3 answers the Task or Message itself.
        var answer = v1 ? (result.TryGetProperty("task", out var t) ? t : result.TryGetProperty("message", out var m) ? m : result) : result;
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(options.Value.LlmTimeoutSeconds);
        var interval = TimeSpan.FromMilliseconds(100);
        while (answer.TryGetProperty("status", out var status) && !IsTerminal(State(status)) && time.GetUtcNow() < deadline)
        {
            await Task.Delay(interval, time, ct);
            interval = TimeSpan.FromMilliseconds(Math.Min(interval.TotalMilliseconds * 2, 2000));
            answer = await CallAsync(http, endpoint, v1 ? "GetTask" : "tasks/get", new JsonObject { ["id"] = answer.GetProperty("id").GetString() }, ct);
        }
        var text = TextOf(answer);
        conversation.Add(new ConversationMessage("agent", text, time.GetUtcNow()));
        var state = answer.TryGetProperty("status", out var last) ? State(last) : "completed";
        if (!IsTerminal(state))
        {
            return new RunOutcome(false, false, null, conversation, null, $"the remote agent's task is still {state}", null, null);
        }
        if (state != "completed")
        {
            return new RunOutcome(false, true, null, conversation, null, $"the remote agent's task ended {state}: {text}", null, null);
        }
        if (work.Kind == WorkKinds.Vote)
        {
            var (choice, reason) = LlmWork.ReadVote(text, work.Options);
            return new RunOutcome(true, false, null, conversation, null, null, choice, reason);
        }
        var output = new JsonObject
        {
            ["text"] = text,
            ["a2aTaskId"] = answer.TryGetProperty("id", out var id) ? id.GetString() : null,
            ["artifacts"] = answer.TryGetProperty("artifacts", out var artifacts) ? JsonNode.Parse(artifacts.GetRawText()) : new JsonArray(),
        };
        return new RunOutcome(true, false, null, conversation, JsonSerializer.SerializeToElement(output), null, null, null);
    }

    private static (Uri Endpoint, bool V1) Endpoint(JsonElement card, string cardUrl)
    {
        if (card.TryGetProperty("supportedInterfaces", out var interfaces) && interfaces.ValueKind == JsonValueKind.Array)
        {
            foreach (var i in interfaces.EnumerateArray())
            {
                if (i.TryGetProperty("protocolBinding", out var binding) && binding.GetString() == "JSONRPC" && i.TryGetProperty("url", out var url))
                {
                    return (new Uri(new Uri(cardUrl), url.GetString()), true);
                }
            }
        }
        if (card.TryGetProperty("url", out var legacy) && legacy.ValueKind == JsonValueKind.String)
        {
            return (new Uri(new Uri(cardUrl), legacy.GetString()), false);
        }
        throw new InvalidOperationException($"the agent card at {cardUrl} names no JSON-RPC endpoint");
    }

    private static async Task<JsonElement> CallAsync(HttpClient http, Uri endpoint, string method, JsonObject parameters, CancellationToken ct)
    {
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = Guid.NewGuid().ToString("N"), ["method"] = method, ["params"] = parameters };
        using var response = await http.PostAsync(endpoint, new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        if (body.TryGetProperty("error", out var error))
        {
            var detail = error.GetRawText();
            throw new InvalidOperationException($"the remote agent refused {method}: {(detail.Length > 300 ? detail[..300] + "…" : detail)}");
        }
        response.EnsureSuccessStatusCode();
        return body.GetProperty("result");
    }

    /// <summary>A task state without its 1.0 prefix, lower-case as in 0.3.</summary>
    private static string State(JsonElement status) =>
        status.TryGetProperty("state", out var s) ? (s.GetString() ?? "").Replace("TASK_STATE_", "", StringComparison.Ordinal).ToLowerInvariant().Replace('_', '-') : "unknown";

    private static bool IsTerminal(string state) => state is "completed" or "failed" or "canceled" or "rejected";

    /// <summary>The text of a task's artifacts (or of its status message, or of a message answer).</summary>
    private static string TextOf(JsonElement answer)
    {
        var texts = new List<string>();
        void Parts(JsonElement holder)
        {
            if (holder.TryGetProperty("parts", out var parts) && parts.ValueKind == JsonValueKind.Array)
            {
                texts.AddRange(parts.EnumerateArray().Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString() ?? ""));
            }
        }
        if (answer.TryGetProperty("artifacts", out var artifacts) && artifacts.ValueKind == JsonValueKind.Array)
        {
            foreach (var artifact in artifacts.EnumerateArray())
            {
                Parts(artifact);
            }
        }
        if (texts.Count == 0 && answer.TryGetProperty("status", out var status) && status.TryGetProperty("message", out var message))
        {
            Parts(message);
        }
        if (texts.Count == 0)
        {
            Parts(answer);
        }
        return string.Join("\n", texts);
    }
}
