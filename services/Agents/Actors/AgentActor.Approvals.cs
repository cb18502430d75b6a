using AgenticFlow.Agents.Domain;

namespace AgenticFlow.Agents.Actors;

/// <summary>Human-in-the-loop tool calls: a run that asks for approval is stored paused (its Agent Framework session,
/// conversation and the calls waiting), with no reminder; decisions are stored one by one, and when none is open the
/// run is due again at once. All of it lives in the actor's state, so a restart of the service loses nothing.</summary>
public sealed partial class AgentActor
{
    private async Task<WorkReply> PauseForApprovalAsync(Dictionary<string, WorkItem> items, WorkItem work, RunOutcome outcome)
    {
        items[work.Id] = work = work with
        {
            Status = WorkStatuses.AwaitingApproval,
            Session = outcome.Session ?? work.Session,
            Conversation = outcome.Conversation.Count > 0 ? outcome.Conversation : work.Conversation,
            Approvals = outcome.Approvals!,
        };
        await StateManager.SetStateAsync(WorkKey, items);
        await StateManager.SaveStateAsync();
        await UnregisterReminderAsync(WorkReminderPrefix + work.Id);
        LogAwaitingApproval(Id.GetId(), work.Id, work.Approvals.Count);
        return new WorkReply(Outcomes.Ok, work);
    }

    public async Task<WorkReply> Decide(string workId, ApprovalDecision decision)
    {
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work))
        {
            return new WorkReply(Outcomes.NotFound, Detail: $"Agent {Id.GetId()} has no task {workId}.");
        }
        if (work.Status != WorkStatuses.AwaitingApproval)
        {
            return new WorkReply(Outcomes.Mismatch, work, $"Task {workId} is {work.Status}, not waiting for an approval.");
        }
        var targets = work.Approvals.Where(a => decision.ApprovalId is null ? a.Approved is null : a.Id == decision.ApprovalId).ToList();
        if (targets.Count == 0)
        {
            return decision.ApprovalId is null
                ? new WorkReply(Outcomes.Mismatch, work, $"Task {workId} has no open approval.")
                : new WorkReply(Outcomes.NotFound, work, $"Task {workId} has no approval {decision.ApprovalId}.");
        }
        if (targets.All(a => a.Approved is not null))
        {
            return targets.All(a => a.Approved == decision.Approved)
                ? new WorkReply(Outcomes.Duplicate, work)
                : new WorkReply(Outcomes.Exists, work, $"Approval {decision.ApprovalId} was already decided.");
        }
        var now = time.GetUtcNow();
        var decided = work.Approvals.Select(a => targets.Contains(a) && a.Approved is null
            ? a with { Approved = decision.Approved, Reason = decision.Reason, DecidedBy = decision.DecidedBy }
            : a).ToList();
        var rejected = decided.Where(a => targets.Any(t => t.Id == a.Id) && a.Approved == false)
            .Select(a => new ToolCallRecord(a.Server, a.Tool, a.Arguments, ToolCallStatuses.Rejected, $"rejected by {a.DecidedBy}{(a.Reason is { Length: > 0 } r ? ": " + r : "")}", 0, now));
        var open = decided.Any(a => a.Approved is null);
        items[workId] = work = work with
        {
            Approvals = decided,
            ToolCalls = [.. work.ToolCalls, .. rejected],
            Status = open ? WorkStatuses.AwaitingApproval : WorkStatuses.Accepted,
        };
        await StateManager.SetStateAsync(WorkKey, items);
        await StateManager.SaveStateAsync();
        if (!open)
        {
            // Every call decided: the run goes on at once, and is retried like any run until it ends.
            await RegisterReminderAsync(WorkReminderPrefix + workId, [], TimeSpan.Zero, TimeSpan.FromSeconds(Settings.WorkRetrySeconds));
        }
        return new WorkReply(Outcomes.Ok, work);
    }

    /// <summary>Results larger than this are kept as their summary only.</summary>
    private const int MaxStoredToolResultBytes = 64 * 1024;

    public async Task<WorkReply> RecordToolCall(string workId, ToolCallRecord call, System.Text.Json.JsonElement? result)
    {
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work))
        {
            return new WorkReply(Outcomes.NotFound);
        }
        var results = new Dictionary<string, System.Text.Json.JsonElement>(work.ToolResults, StringComparer.Ordinal);
        if (call.CallId is { } callId && result is { } r)
        {
            results[callId] = r.GetRawText().Length <= MaxStoredToolResultBytes ? r.Clone() : System.Text.Json.JsonSerializer.SerializeToElement(call.ResultSummary);
        }
        items[workId] = work = work with { ToolCalls = [.. work.ToolCalls, call], ToolResults = results };
        await StateManager.SetStateAsync(WorkKey, items);
        await StateManager.SaveStateAsync();
        return new WorkReply(Outcomes.Ok, work);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} paused task {WorkId}: {Count} tool calls wait for approval")]
    private partial void LogAwaitingApproval(string agentId, string workId, int count);
}
