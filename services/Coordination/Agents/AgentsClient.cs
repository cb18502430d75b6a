using AgenticFlow.ServiceDefaults;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Agents;

public sealed record AgentCapability(string Name, string? Version, double Proficiency);

/// <summary>An agent as the agents service describes it (the fields coordination reads).</summary>
public sealed record AgentInfo(string Id, string? Name, string Kind, IReadOnlyList<AgentCapability> Capabilities, int MaxConcurrentTasks,
    string? Status, string? Health, double Load)
{
    public bool Healthy => Health is null or "healthy";

    /// <summary>May join a team or take work: healthy and neither draining nor offline.</summary>
    public bool Usable => Healthy && Status is not ("draining" or "offline" or "deregistered");
}

/// <summary>How an agent's service took a task or a vote request sent to it.</summary>
public enum Delivery { Accepted, UnknownAgent, Refused, Unavailable }

/// <summary>The calls coordination makes to the agents service (see the agents-coordination contract).</summary>
public interface IAgentsClient
{
    Task<AgentInfo?> GetAsync(string agentId, CancellationToken ct);

    /// <summary>Every agent holding <paramref name="capability"/>.</summary>
    Task<IReadOnlyList<AgentInfo>> FindAsync(string capability, CancellationToken ct);

    Task<Delivery> SendTaskAsync(string agentId, object task, CancellationToken ct);

    Task<Delivery> RequestVoteAsync(string agentId, object request, CancellationToken ct);
}

/// <summary>Reaches the agents service through Dapr invocation; such calls carry no edge identity, so they are privileged.</summary>
public sealed partial class AgentsClient(IOptions<CoordinationOptions> options, IConfiguration configuration, ILogger<AgentsClient> logger) : IAgentsClient, IDisposable
{
    private const int PageSize = 100;
    private const int MaxPages = 100;

    // http://{app-id}/path becomes the sidecar's /v1.0/invoke/{app-id}/method/path, with the sidecar's API token.
    private readonly HttpClient _http = DaprInvocation.Client(configuration, options.Value.AgentsAppId);

    public void Dispose() => _http.Dispose();

    public async Task<AgentInfo?> GetAsync(string agentId, CancellationToken ct)
    {
        using var response = await _http.GetAsync($"api/v1/agents/{Uri.EscapeDataString(agentId)}", ct);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone or HttpStatusCode.BadRequest)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return Read(await response.Content.ReadFromJsonAsync<JsonElement>(ct));
    }

    public async Task<IReadOnlyList<AgentInfo>> FindAsync(string capability, CancellationToken ct)
    {
        var found = new List<AgentInfo>();
        string? cursor = null;
        for (var page = 0; page < MaxPages; page++)
        {
            var path = $"api/v1/agents?capability={Uri.EscapeDataString(capability)}&limit={PageSize}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            using var response = await _http.GetAsync(path, ct);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            var items = body.ValueKind == JsonValueKind.Array ? body : FirstArray(body, "items", "agents", "data");
            if (items.ValueKind == JsonValueKind.Array)
            {
                found.AddRange(items.EnumerateArray().Select(Read).OfType<AgentInfo>());
            }
            cursor = body.ValueKind == JsonValueKind.Object ? FirstString(body, "nextCursor", "cursor", "next") : null;
            if (string.IsNullOrEmpty(cursor))
            {
                break;
            }
        }
        return found;
    }

    public Task<Delivery> SendTaskAsync(string agentId, object task, CancellationToken ct) =>
        PostAsync($"internal/agents/{Uri.EscapeDataString(agentId)}/tasks", task, ct);

    public Task<Delivery> RequestVoteAsync(string agentId, object request, CancellationToken ct) =>
        PostAsync($"internal/agents/{Uri.EscapeDataString(agentId)}/votes", request, ct);

    private async Task<Delivery> PostAsync(string path, object body, CancellationToken ct)
    {
        try
        {
            using var response = await _http.PostAsync(path, JsonContent.Create(body, options: Storage.CoordinationStore.Json), ct);
            return response.StatusCode switch
            {
                _ when response.IsSuccessStatusCode => Delivery.Accepted,
                HttpStatusCode.NotFound or HttpStatusCode.Gone => Delivery.UnknownAgent,
                HttpStatusCode.Conflict or HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => Delivery.Refused,
                _ => LogAndReturn(path, (int)response.StatusCode),
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or Dapr.DaprException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            LogUnreachable(ex, path);
            return Delivery.Unavailable;
        }
    }

    private Delivery LogAndReturn(string path, int status)
    {
        LogFailed(path, status);
        return Delivery.Unavailable;
    }

    /// <summary>The agent document of the contract; null when it lacks an id.</summary>
    public static AgentInfo? Read(JsonElement agent)
    {
        if (agent.ValueKind != JsonValueKind.Object || FirstString(agent, "id", "agentId") is not { Length: > 0 } id)
        {
            return null;
        }
        var capabilities = new List<AgentCapability>();
        if (agent.TryGetProperty("capabilities", out var caps) && caps.ValueKind == JsonValueKind.Array)
        {
            foreach (var cap in caps.EnumerateArray())
            {
                if (cap.ValueKind == JsonValueKind.String)
                {
                    capabilities.Add(new AgentCapability(cap.GetString()!, null, 1));
                }
                else if (cap.ValueKind == JsonValueKind.Object && FirstString(cap, "name") is { } name)
                {
                    var proficiency = cap.TryGetProperty("proficiency", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : 1;
                    capabilities.Add(new AgentCapability(name, FirstString(cap, "version"), proficiency));
                }
            }
        }
        var max = agent.TryGetProperty("maxConcurrentTasks", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var mv) ? mv : 1;
        var load = agent.TryGetProperty("load", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetDouble() : 0;
        return new AgentInfo(id, FirstString(agent, "name"), FirstString(agent, "kind") ?? "external", capabilities, Math.Max(1, max),
            FirstString(agent, "status"), FirstString(agent, "health"), load);
    }

    private static JsonElement FirstArray(JsonElement body, params string[] names)
    {
        foreach (var name in names)
        {
            if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array)
            {
                return value;
            }
        }
        return default;
    }

    private static string? FirstString(JsonElement body, params string[] names)
    {
        foreach (var name in names)
        {
            if (body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                return value.GetString();
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agents answered {Status} to {Path}")]
    private partial void LogFailed(string path, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agents could not be reached for {Path}")]
    private partial void LogUnreachable(Exception ex, string path);
}
