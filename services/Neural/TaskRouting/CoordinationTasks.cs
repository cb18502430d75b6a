using AgenticFlow.ServiceDefaults;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.Neural.Domain;
using Dapr.Client;

namespace AgenticFlow.Neural.TaskRouting;

/// <summary>Reads coordination's completed tasks through Dapr invocation (a call between services: privileged).</summary>
public sealed class CoordinationTasks(IConfiguration configuration) : IDisposable
{
    private const int PageSize = 500, MaxPagesPerTeam = 20;
    private readonly HttpClient _http = DaprInvocation.Client(configuration, "coordination");

    public void Dispose() => _http.Dispose();

    public async Task<IReadOnlyList<CompletedTask>> CompletedAsync(CancellationToken ct)
    {
        var teams = await _http.GetFromJsonAsync<JsonElement>("api/v1/teams", ct);
        var tasks = new List<CompletedTask>();
        foreach (var team in teams.GetProperty("items").EnumerateArray())
        {
            var teamId = Uri.EscapeDataString(team.GetProperty("id").GetString()!);
            string? cursor = null;
            for (var page = 0; page < MaxPagesPerTeam; page++)
            {
                var path = $"api/v1/teams/{teamId}/tasks?state=completed&limit={PageSize}" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
                var body = await _http.GetFromJsonAsync<JsonElement>(path, ct);
                foreach (var task in body.GetProperty("items").EnumerateArray())
                {
                    tasks.Add(new CompletedTask(
                        task.GetProperty("id").GetString()!,
                        task.GetProperty("description").GetString() ?? "",
                        task.GetProperty("requiredCapabilities").EnumerateArray().Select(c => c.GetString()!).ToList(),
                        task.GetProperty("agentId").GetString() ?? "",
                        Time(task, "startedAt"), Time(task, "finishedAt")));
                }
                cursor = body.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
                if (cursor is null)
                {
                    break;
                }
            }
        }
        return tasks;
    }

    private static DateTimeOffset? Time(JsonElement task, string name) =>
        task.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset() : null;
}
