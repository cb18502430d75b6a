using System.Net;
using System.Net.Http.Json;
using AgenticFlow.Agents.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Clients;

public enum Handover
{
    /// <summary>Coordination took it (2xx).</summary>
    Done,
    /// <summary>Coordination refused it for good (409: the task went to another agent, the round is closed).</summary>
    Rejected,
    /// <summary>Coordination did not answer or failed: try again later.</summary>
    Unreachable,
}

/// <summary>The calls agents makes to the coordination service (see agents-coordination contract), by Dapr invocation.</summary>
public sealed partial class CoordinationClient(ServiceInvoker invoker, IOptions<AgentsOptions> options, ILogger<CoordinationClient> logger)
{
    private string AppId => options.Value.CoordinationAppId;

    /// <summary>Hands a finished task or a vote to coordination.</summary>
    public Task<Handover> ReportAsync(string agentId, WorkItem work, CancellationToken ct) =>
        work.Kind == WorkKinds.Vote
            ? PostAsync($"internal/consensus/{Uri.EscapeDataString(work.RoundId!)}/votes",
                new { agentId, choice = work.Choice, reason = work.Reason ?? work.Error, abstain = work.Choice is null }, ct)
            : PostAsync($"internal/tasks/{Uri.EscapeDataString(work.Id)}/result",
                new { agentId, status = work.Status, output = work.Output, error = work.Error, attempt = work.TaskAttempt > 0 ? work.TaskAttempt : (int?)null }, ct);

    /// <summary>Asks coordination to give the agent's open tasks to others and drop it from its teams.</summary>
    public Task<Handover> DrainAsync(string agentId, CancellationToken ct) =>
        PostAsync($"internal/agents/{Uri.EscapeDataString(agentId)}/drain", new { agentId }, ct);

    private async Task<Handover> PostAsync(string path, object body, CancellationToken ct)
    {
        try
        {
            using var response = await invoker.For(AppId).PostAsJsonAsync(path, body, ct);
            if (response.IsSuccessStatusCode)
            {
                return Handover.Done;
            }
            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                return Handover.Rejected;
            }
            LogFailed(path, (int)response.StatusCode);
            return Handover.Unreachable;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            LogUnreachable(ex, path);
            return Handover.Unreachable;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Coordination answered {Status} to {Path}")]
    private partial void LogFailed(string path, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Coordination could not be reached for {Path}")]
    private partial void LogUnreachable(Exception ex, string path);
}
