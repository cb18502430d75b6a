using AgenticFlow.ServiceDefaults;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Domain;

/// <summary>Who belongs to a team, as the coordination service says (GET /api/v1/teams/{id} through Dapr invocation).</summary>
public interface ITeamDirectory
{
    /// <summary>The team's member agent ids; null when coordination knows no such team. Throws when coordination
    /// cannot be reached, so a fan-out is retried rather than sent to nobody.</summary>
    Task<IReadOnlyList<string>?> MembersAsync(string teamId, CancellationToken ct);
}

public sealed class TeamDirectory(IOptions<MessagingOptions> options, IConfiguration configuration) : ITeamDirectory, IDisposable
{
    // http://{app-id}/path becomes the sidecar's /v1.0/invoke/{app-id}/method/path, with the sidecar's API token.
    private readonly HttpClient _http = DaprInvocation.Client(configuration, options.Value.CoordinationAppId);

    public async Task<IReadOnlyList<string>?> MembersAsync(string teamId, CancellationToken ct)
    {
        using var response = await _http.GetAsync($"api/v1/teams/{Uri.EscapeDataString(teamId)}", ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        var team = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        if (!team.TryGetProperty("members", out var members) || members.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        return members.EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("agentId", out var id) ? id.GetString() : null)
            .OfType<string>().ToList();
    }

    public void Dispose() => _http.Dispose();
}
