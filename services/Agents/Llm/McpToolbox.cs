using System.Diagnostics;
using System.Text.Json;
using AgenticFlow.Agents.Domain;
using Dapr.Client;
using Microsoft.Extensions.AI;
using ModelContextProtocol.Client;

namespace AgenticFlow.Agents.Llm;

/// <summary>
/// The tools of an llm agent's MCP servers for one run: a client per server (streamable HTTP) that presents the
/// agent's own token, read from the secret store, each call stored (through the actor) as it is made — name,
/// arguments, a summary of its result, latency, and the result by call id — before the model goes on, so a replayed
/// call (a resumed run retried) gets the stored result instead of calling the tool again; and the tools a server marks
/// as needing approval wrapped so that the Agent Framework asks for a decision instead of calling them.
/// </summary>
public sealed class McpToolbox : IAsyncDisposable
{
    private const int SummaryChars = 500;
    private readonly List<McpClient> _clients = [];
    private readonly Dictionary<string, string> _serverOfTool = new(StringComparer.Ordinal);

    public List<AITool> Tools { get; } = [];

    public string ServerOf(string tool) => _serverOfTool.GetValueOrDefault(tool, "");

    public static async Task<McpToolbox> OpenAsync(AgentRecord agent, DaprClient dapr, string secretStore, HttpClient http,
        IReadOnlyDictionary<string, JsonElement> made, Func<ToolCallRecord, JsonElement?, Task> record, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var box = new McpToolbox();
        try
        {
            foreach (var server in agent.Llm?.McpServers ?? [])
            {
                var headers = new Dictionary<string, string>();
                if (server.TokenSecret is { } secretName)
                {
                    if (!Apis.RequestRules.IsAgentsTokenSecret(secretName, agent.Id))
                    {
                        throw new InvalidOperationException($"secret {secretName} is not agent {agent.Id}'s to read");
                    }
                    var secret = await dapr.GetSecretAsync(secretStore, secretName, cancellationToken: ct);
                    var token = secret.TryGetValue(secretName, out var value) ? value : secret.Values.FirstOrDefault();
                    if (string.IsNullOrEmpty(token))
                    {
                        throw new InvalidOperationException($"secret {secretName} of MCP server {server.Name} is empty");
                    }
                    headers["Authorization"] = "Bearer " + token;
                }
                var transport = new HttpClientTransport(new HttpClientTransportOptions
                {
                    Endpoint = new Uri(server.Url),
                    TransportMode = HttpTransportMode.StreamableHttp,
                    Name = server.Name,
                    AdditionalHeaders = headers,
                }, http, loggers, ownsHttpClient: false);
                var client = await McpClient.CreateAsync(transport, new McpClientOptions
                {
                    ClientInfo = new ModelContextProtocol.Protocol.Implementation { Name = "agenticflow-agent-" + agent.Id, Version = "1.0.0" },
                }, loggers, ct);
                box._clients.Add(client);
                foreach (var tool in await client.ListToolsAsync(cancellationToken: ct))
                {
                    if (!box._serverOfTool.TryAdd(tool.Name, server.Name))
                    {
                        continue; // The first server naming a tool keeps it.
                    }
                    AIFunction recorded = new RecordedTool(tool, server.Name, made, record, time);
                    box.Tools.Add(server.NeedsApproval(tool.Name) ? new ApprovalRequiredAIFunction(recorded) : recorded);
                }
            }
            return box;
        }
        catch
        {
            await box.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
    }

    public static string Summary(string text) => text.Length > SummaryChars ? text[..SummaryChars] + "…" : text;

    /// <summary>An MCP tool whose every call is stored before its result goes back to the model; a call whose id
    /// already has a stored result is answered from it. A failure is stored too and passed on to the model as the
    /// Agent Framework passes any tool failure on.</summary>
    private sealed class RecordedTool(McpClientTool tool, string server, IReadOnlyDictionary<string, JsonElement> made,
        Func<ToolCallRecord, JsonElement?, Task> record, TimeProvider time) : DelegatingAIFunction(tool)
    {
        protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
        {
            var callId = FunctionInvokingChatClient.CurrentContext?.CallContent.CallId;
            if (callId is not null && made.TryGetValue(callId, out var stored))
            {
                return stored;
            }
            var started = Stopwatch.GetTimestamp();
            var args = JsonSerializer.SerializeToElement(arguments.ToDictionary(a => a.Key, a => a.Value));
            object? result;
            try
            {
                result = await base.InvokeCoreAsync(arguments, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await record(new ToolCallRecord(server, Name, args, ToolCallStatuses.Error, Summary(ex.Message), Stopwatch.GetElapsedTime(started).TotalMilliseconds, time.GetUtcNow(), callId), null);
                throw;
            }
            var json = result is JsonElement element ? element : JsonSerializer.SerializeToElement(result);
            var failed = json is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("isError", out var e) && e.ValueKind == JsonValueKind.True;
            await record(new ToolCallRecord(server, Name, args, failed ? ToolCallStatuses.Error : ToolCallStatuses.Ok, Summary(json.GetRawText()),
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, time.GetUtcNow(), callId), json);
            return result;
        }
    }
}
