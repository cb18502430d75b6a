using System.Net.Http.Json;
using AgenticFlow.Agents.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Clients;

/// <summary>Puts work into an external agent's messaging queue, by Dapr invocation of the messaging service. The work's
/// id (with the task's attempt number) is the message's idempotency key, so sending again after a failure never queues it twice.</summary>
public sealed partial class MessagingClient(ServiceInvoker invoker, IOptions<AgentsOptions> options, ILogger<MessagingClient> logger)
{
    public const string TaskAssigned = "task.assigned", VoteRequested = "vote.requested";

    public async Task<bool> SendAsync(string agentId, WorkItem work, CancellationToken ct)
    {
        var type = work.Kind == WorkKinds.Vote ? VoteRequested : TaskAssigned;
        object payload = work.Kind == WorkKinds.Vote
            ? new { type, roundId = work.RoundId, teamId = work.TeamId, proposal = work.Proposal, options = work.Options, deadline = work.Deadline }
            : new { type, taskId = work.Id, attempt = work.TaskAttempt, teamId = work.TeamId, description = work.Description, input = work.Input, requiredCapabilities = work.RequiredCapabilities, deadline = work.Deadline };
        var message = new
        {
            recipient = new { kind = "agent", id = agentId },
            priority = "high",
            body = payload,
            // A later attempt of the same task is another message (the same agent may get the task again).
            idempotencyKey = work.TaskAttempt > 0 ? $"{work.Id}#{work.TaskAttempt}" : work.Id,
            from = "agents",
            attributes = new Dictionary<string, string> { ["type"] = type },
        };
        try
        {
            using var response = await invoker.For(options.Value.MessagingAppId).PostAsJsonAsync("api/v1/messages", message, ct);
            if (response.IsSuccessStatusCode)
            {
                return true;
            }
            LogRefused(agentId, work.Id, (int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
            return false;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            LogUnreachable(ex, agentId, work.Id);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Messaging refused work {WorkId} for agent {AgentId}: {Status} {Body}")]
    private partial void LogRefused(string agentId, string workId, int status, string body);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Messaging could not be reached for work {WorkId} of agent {AgentId}")]
    private partial void LogUnreachable(Exception ex, string agentId, string workId);
}
