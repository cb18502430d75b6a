using AgenticFlow.Agents.Domain;
using AgenticFlow.Agents.Storage;
using Dapr.Actors.Runtime;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Actors;

/// <summary>
/// One agent: its record (the ETag is its version), its heartbeats (a reminder marks an external agent unhealthy
/// after missed beats), and the work given to it. Every change is saved first, then told to the read model and
/// pub/sub as an <see cref="AgentEvent"/>. Long work (an llm run, handing a result to coordination) never runs in
/// a turn: a reminder per work item hands it to <see cref="WorkRunner"/>, and keeps firing until the work is done,
/// so a restart of the service picks it up again.
/// </summary>
public sealed partial class AgentActor(ActorHost host, AgentChanges changes, WorkRunner runner, TimeProvider time,
    IOptions<AgentsOptions> options, ILogger<AgentActor> logger) : Actor(host), IAgentActor, IRemindable
{
    public const string TypeName = "AgentActor";
    private const string AgentKey = "agent";
    private const string WorkKey = "work";
    public const string HeartbeatReminder = "heartbeat-check";
    private const string WorkReminderPrefix = "work:";
    private const int MaxRunAttempts = 3;
    private const int MaxReportAttempts = 50;

    private AgentsOptions Settings => options.Value;

    private async Task<AgentRecord?> LoadAsync()
    {
        var found = await StateManager.TryGetStateAsync<AgentRecord>(AgentKey);
        return found.HasValue ? found.Value : null;
    }

    private async Task<Dictionary<string, WorkItem>> LoadWorkAsync()
    {
        var found = await StateManager.TryGetStateAsync<Dictionary<string, WorkItem>>(WorkKey);
        return found.HasValue ? found.Value : new Dictionary<string, WorkItem>(StringComparer.Ordinal);
    }

    /// <summary>Saves, then projects and publishes: a failure before the save changes nothing; one after it is healed by
    /// the next change (events carry the whole summary).</summary>
    private async Task<AgentRecord> CommitAsync(AgentRecord agent, string? topic, Dictionary<string, WorkItem>? work = null)
    {
        await StateManager.SetStateAsync(AgentKey, agent);
        if (work is not null)
        {
            await StateManager.SetStateAsync(WorkKey, work);
        }
        await StateManager.SaveStateAsync();
        if (topic is not null)
        {
            await changes.ApplyAsync(agent, topic, time.GetUtcNow());
        }
        return agent;
    }

    public async Task<AgentReply> Register(AgentRecord agent)
    {
        if (await LoadAsync() is { } existing)
        {
            return new AgentReply(Outcomes.Exists, existing, $"Agent {existing.Id} is already registered.");
        }
        var now = time.GetUtcNow();
        agent = agent with { Id = Id.GetId(), RegisteredAt = now, LastHeartbeat = now, Version = 1, Status = AgentStatuses.Idle, Health = AgentHealth.Healthy };
        await CommitAsync(agent, AgentTopics.Registered);
        if (agent.Kind == AgentKinds.External)
        {
            var every = TimeSpan.FromSeconds(Settings.HeartbeatCheckSeconds);
            await RegisterReminderAsync(HeartbeatReminder, [], every, every);
        }
        return new AgentReply(Outcomes.Created, agent);
    }

    public async Task<AgentReply> Get() =>
        await LoadAsync() is { } agent ? new AgentReply(Outcomes.Ok, agent) : new AgentReply(Outcomes.NotFound);

    public async Task<AgentReply> UpdateState(StateChange change)
    {
        if (await LoadAsync() is not { } agent)
        {
            return new AgentReply(Outcomes.NotFound);
        }
        if (change.IfMatch is { } ifMatch && ifMatch != "*" && ifMatch != agent.ETag)
        {
            return new AgentReply(Outcomes.Stale, agent, $"Agent {agent.Id} is at ETag {agent.ETag}; read it again and retry with that If-Match.");
        }
        if (agent.Status == AgentStatuses.Draining && change.Status is not null)
        {
            return new AgentReply(Outcomes.Draining, agent, $"Agent {agent.Id} is being removed; its status can no longer change.");
        }
        var custom = new Dictionary<string, System.Text.Json.JsonElement>(agent.Custom, StringComparer.Ordinal);
        foreach (var (key, value) in change.Custom ?? new Dictionary<string, System.Text.Json.JsonElement?>())
        {
            if (value is null || value.Value.ValueKind == System.Text.Json.JsonValueKind.Null)
            {
                custom.Remove(key);
            }
            else
            {
                custom[key] = value.Value.Clone();
            }
        }
        if (custom.Count > AgentLimits.MaxCustomFields)
        {
            return new AgentReply(Outcomes.Mismatch, agent, $"An agent keeps at most {AgentLimits.MaxCustomFields} custom fields.");
        }
        var statusChanged = change.Status is not null && change.Status != agent.Status;
        agent = agent with
        {
            Status = change.Status ?? agent.Status,
            Load = change.Load ?? agent.Load,
            Custom = custom,
            Version = agent.Version + 1,
        };
        await CommitAsync(agent, AgentTopics.StateChanged);
        if (statusChanged)
        {
            LogStatus(agent.Id, agent.Status);
        }
        return new AgentReply(Outcomes.Ok, agent);
    }

    public async Task<AgentReply> Heartbeat()
    {
        if (await LoadAsync() is not { } agent)
        {
            return new AgentReply(Outcomes.NotFound);
        }
        var recovered = agent.Health == AgentHealth.Unhealthy;
        agent = agent with
        {
            LastHeartbeat = time.GetUtcNow(),
            Health = AgentHealth.Healthy,
            Version = recovered ? agent.Version + 1 : agent.Version,
        };
        // A beat that changes nothing but its time is saved without touching the read model or pub/sub.
        await CommitAsync(agent, recovered ? AgentTopics.Healthy : null);
        if (recovered)
        {
            LogHealth(agent.Id, agent.Health);
        }
        return new AgentReply(Outcomes.Ok, agent);
    }

    public async Task<AgentReply> BeginDrain()
    {
        if (await LoadAsync() is not { } agent)
        {
            return new AgentReply(Outcomes.NotFound);
        }
        if (agent.Status == AgentStatuses.Draining)
        {
            return new AgentReply(Outcomes.Ok, agent);
        }
        agent = agent with { Status = AgentStatuses.Draining, StatusBeforeDrain = agent.Status, Version = agent.Version + 1 };
        return new AgentReply(Outcomes.Ok, await CommitAsync(agent, AgentTopics.StateChanged));
    }

    public async Task<AgentReply> AbortDrain()
    {
        if (await LoadAsync() is not { } agent)
        {
            return new AgentReply(Outcomes.NotFound);
        }
        if (agent.Status != AgentStatuses.Draining)
        {
            return new AgentReply(Outcomes.Ok, agent);
        }
        agent = agent with { Status = agent.StatusBeforeDrain ?? AgentStatuses.Idle, StatusBeforeDrain = null, Version = agent.Version + 1 };
        return new AgentReply(Outcomes.Ok, await CommitAsync(agent, AgentTopics.StateChanged));
    }

    public async Task<AgentReply> Remove()
    {
        if (await LoadAsync() is not { } agent)
        {
            return new AgentReply(Outcomes.NotFound);
        }
        foreach (var id in (await LoadWorkAsync()).Keys)
        {
            await UnregisterReminderAsync(WorkReminderPrefix + id);
        }
        if (agent.Kind == AgentKinds.External)
        {
            await UnregisterReminderAsync(HeartbeatReminder);
        }
        await StateManager.TryRemoveStateAsync(AgentKey);
        await StateManager.TryRemoveStateAsync(WorkKey);
        await StateManager.SaveStateAsync();
        await changes.RemoveAsync(agent, time.GetUtcNow());
        return new AgentReply(Outcomes.Ok, agent);
    }

    public async Task<WorkReply> Assign(WorkItem work)
    {
        if (await LoadAsync() is not { } agent)
        {
            return new WorkReply(Outcomes.NotFound);
        }
        var items = await LoadWorkAsync();
        // A task coordination gives this agent again (a later attempt after a failure or a missed deadline, when nobody
        // else can take it) is new work, not a repeat of the old delivery. Without attempt numbers, only a failure
        // coordination took can be told apart.
        var newAttempt = items.TryGetValue(work.Id, out var known) && work.Kind == WorkKinds.Task
            && (work.TaskAttempt > known.TaskAttempt
                || (work.TaskAttempt == 0 && known.Status == WorkStatuses.Failed && known.Report == ReportStatuses.Done));
        if (known is not null && !newAttempt)
        {
            if (AgentKinds.RunsHere(agent.Kind) && !WorkStatuses.IsFinal(known.Status))
            {
                // The first delivery may have been stored without its reminder (a crash between the two): registering
                // again is harmless and makes sure the run happens.
                await RegisterReminderAsync(WorkReminderPrefix + work.Id, [], TimeSpan.Zero, TimeSpan.FromSeconds(Settings.WorkRetrySeconds));
            }
            return new WorkReply(Outcomes.Duplicate, known);
        }
        if (agent.Status == AgentStatuses.Draining)
        {
            return new WorkReply(Outcomes.Draining, Detail: $"Agent {agent.Id} is being removed and takes no new work.");
        }
        work = work with { Status = WorkStatuses.Accepted, AcceptedAt = time.GetUtcNow(), Report = ReportStatuses.None };
        items[work.Id] = work;
        var lapsedTasks = Prune(items, agent.Kind);
        // An attempt replacing one still open here holds the same slot.
        var added = work.Kind == WorkKinds.Task && !(known is not null && !WorkStatuses.IsFinal(known.Status)) ? 1 : 0;
        if (added != 0 || lapsedTasks != 0)
        {
            agent = WithActiveTasks(agent, Math.Max(0, agent.ActiveTasks + added - lapsedTasks));
        }
        await CommitAsync(agent, work.Kind == WorkKinds.Task ? AgentTopics.StateChanged : null, items);
        if (AgentKinds.RunsHere(agent.Kind))
        {
            // Due at once, then again every retry interval until the run and its report are done.
            await RegisterReminderAsync(WorkReminderPrefix + work.Id, [], TimeSpan.Zero, TimeSpan.FromSeconds(Settings.WorkRetrySeconds));
        }
        return new WorkReply(Outcomes.Created, work);
    }

    public async Task<WorkReply> GetWork(string workId) =>
        (await LoadWorkAsync()).TryGetValue(workId, out var work) ? new WorkReply(Outcomes.Ok, work) : new WorkReply(Outcomes.NotFound);

    public async Task<WorkReply> MarkDelivered(string workId)
    {
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work))
        {
            return new WorkReply(Outcomes.NotFound);
        }
        if (work.Status == WorkStatuses.Accepted)
        {
            items[workId] = work = work with { Status = WorkStatuses.Delivered };
            await StateManager.SetStateAsync(WorkKey, items);
            await StateManager.SaveStateAsync();
        }
        return new WorkReply(Outcomes.Ok, work);
    }

    public async Task<WorkReply> RecordResult(string workId, WorkResult result)
    {
        if (await LoadAsync() is not { } agent)
        {
            return new WorkReply(Outcomes.NotFound);
        }
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work) || work.Kind != WorkKinds.Task)
        {
            return new WorkReply(Outcomes.NotFound, Detail: $"Agent {agent.Id} has no task {workId}.");
        }
        if (agent.Kind != AgentKinds.External)
        {
            return new WorkReply(Outcomes.Mismatch, work, $"Agent {agent.Id} is an llm agent: its results come from its own runs.");
        }
        if (WorkStatuses.IsFinal(work.Status))
        {
            // The same result twice is a retry; a different one contradicts what was already handed on.
            return work.Status == result.Status
                ? new WorkReply(Outcomes.Duplicate, work)
                : new WorkReply(Outcomes.Exists, work, $"Task {workId} was already reported as {work.Status}.");
        }
        items[workId] = work = work with
        {
            Status = result.Status,
            Output = result.Output?.Clone(),
            Error = result.Error,
            FinishedAt = time.GetUtcNow(),
            Report = ReportStatuses.Pending,
        };
        agent = WithActiveTasks(agent, Math.Max(0, agent.ActiveTasks - 1));
        await CommitAsync(agent, AgentTopics.StateChanged, items);
        // Should the hand-over to coordination fail now, this reminder retries it.
        var retry = TimeSpan.FromSeconds(Settings.WorkRetrySeconds);
        await RegisterReminderAsync(WorkReminderPrefix + workId, [], retry, retry);
        return new WorkReply(Outcomes.Ok, work);
    }

    public async Task<WorkReply> FinishRun(string workId, RunOutcome outcome)
    {
        if (await LoadAsync() is not { } agent)
        {
            return new WorkReply(Outcomes.NotFound);
        }
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work))
        {
            return new WorkReply(Outcomes.NotFound);
        }
        if (WorkStatuses.IsFinal(work.Status))
        {
            return new WorkReply(Outcomes.Duplicate, work);
        }
        if (outcome.Paused)
        {
            return await PauseForApprovalAsync(items, work, outcome);
        }
        var attempts = work.Attempts + (outcome.Finished ? 0 : 1);
        var failed = outcome.Failed || (!outcome.Finished && attempts >= MaxRunAttempts);
        var final = outcome.Finished || failed;
        work = work with
        {
            Attempts = attempts,
            Session = outcome.Session ?? work.Session,
            Conversation = outcome.Conversation.Count > 0 ? outcome.Conversation : work.Conversation,
            Status = final ? (failed ? WorkStatuses.Failed : WorkStatuses.Completed) : WorkStatuses.Accepted,
            Output = outcome.Output ?? work.Output,
            Error = outcome.Error,
            Choice = outcome.Choice,
            Reason = outcome.Reason,
            FinishedAt = final ? time.GetUtcNow() : null,
            Report = final ? ReportStatuses.Pending : ReportStatuses.None,
        };
        items[workId] = work;
        if (final && work.Kind == WorkKinds.Task)
        {
            agent = WithActiveTasks(agent, Math.Max(0, agent.ActiveTasks - 1));
            await CommitAsync(agent, AgentTopics.StateChanged, items);
        }
        else
        {
            await StateManager.SetStateAsync(WorkKey, items);
            await StateManager.SaveStateAsync();
        }
        return new WorkReply(Outcomes.Ok, work);
    }

    public async Task<WorkReply> MarkReported(string workId, int taskAttempt, string report)
    {
        var items = await LoadWorkAsync();
        if (!items.TryGetValue(workId, out var work))
        {
            return new WorkReply(Outcomes.NotFound);
        }
        if (work.TaskAttempt != taskAttempt || work.Report != ReportStatuses.Pending)
        {
            // Coordination gave the task again while the earlier attempt's report was in flight: this is the new
            // attempt's work, whose reminder must keep running.
            return new WorkReply(Outcomes.Duplicate, work);
        }
        var attempts = work.ReportAttempts + 1;
        // Coordination that keeps failing to take a result is given up on in the end, rather than retried forever.
        var next = report == ReportStatuses.Pending && attempts >= MaxReportAttempts ? ReportStatuses.Abandoned : report;
        items[workId] = work = work with { Report = next, ReportAttempts = attempts };
        await StateManager.SetStateAsync(WorkKey, items);
        await StateManager.SaveStateAsync();
        if (next != ReportStatuses.Pending)
        {
            await UnregisterReminderAsync(WorkReminderPrefix + workId);
        }
        if (next == ReportStatuses.Abandoned)
        {
            LogAbandoned(Id.GetId(), workId, attempts);
        }
        return new WorkReply(Outcomes.Ok, work);
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName == HeartbeatReminder)
        {
            await CheckHeartbeatAsync();
            return;
        }
        if (!reminderName.StartsWith(WorkReminderPrefix, StringComparison.Ordinal))
        {
            return;
        }
        var workId = reminderName[WorkReminderPrefix.Length..];
        var agent = await LoadAsync();
        var items = await LoadWorkAsync();
        if (agent is null || !items.TryGetValue(workId, out var work) || work.Report is ReportStatuses.Done or ReportStatuses.Rejected or ReportStatuses.Abandoned)
        {
            await UnregisterReminderAsync(reminderName);
            return;
        }
        if (work.Status == WorkStatuses.AwaitingApproval)
        {
            // Nothing to retry while a person decides; the decision registers the reminder again.
            await UnregisterReminderAsync(reminderName);
            return;
        }
        // Handed to the runner, outside this turn: the actor keeps answering while a model thinks.
        if (WorkStatuses.IsFinal(work.Status))
        {
            runner.StartReport(agent.Id, workId);
        }
        else if (AgentKinds.RunsHere(agent.Kind))
        {
            runner.StartRun(agent.Id, workId);
        }
    }

    private async Task CheckHeartbeatAsync()
    {
        if (await LoadAsync() is not { } agent)
        {
            await UnregisterReminderAsync(HeartbeatReminder);
            return;
        }
        var silent = time.GetUtcNow() - agent.LastHeartbeat;
        if (agent.Health == AgentHealth.Healthy && silent > TimeSpan.FromSeconds(Settings.HeartbeatTimeoutSeconds))
        {
            agent = agent with { Health = AgentHealth.Unhealthy, Version = agent.Version + 1 };
            await CommitAsync(agent, AgentTopics.Unhealthy);
            LogHealth(agent.Id, agent.Health);
        }
    }

    /// <summary>An llm agent's status and load follow its work; an external agent reports its own.</summary>
    private static AgentRecord WithActiveTasks(AgentRecord agent, int active)
    {
        agent = agent with { ActiveTasks = active, Version = agent.Version + 1 };
        if (!AgentKinds.RunsHere(agent.Kind))
        {
            return agent;
        }
        var status = agent.Status is AgentStatuses.Idle or AgentStatuses.Busy
            ? (active >= agent.MaxConcurrentTasks ? AgentStatuses.Busy : AgentStatuses.Idle)
            : agent.Status;
        return agent with { Status = status, Load = Math.Min(1, (double)active / agent.MaxConcurrentTasks) };
    }

    /// <summary>Keeps the newest finished work that coordination already has; unfinished work is never dropped.</summary>
    /// <summary>Keeps the newest finished work, and drops an external agent's work that will never finish here: a vote
    /// request or task past its deadline by a day that the agent never answered (it votes with coordination directly;
    /// coordination gave a lapsed task to someone else). Returns how many open tasks it dropped.</summary>
    private int Prune(Dictionary<string, WorkItem> items, string agentKind)
    {
        var done = items.Values.Where(w => WorkStatuses.IsFinal(w.Status) && w.Report != ReportStatuses.Pending).OrderBy(w => w.FinishedAt).ToList();
        foreach (var old in done.Take(Math.Max(0, done.Count - Settings.FinishedWorkKept)))
        {
            items.Remove(old.Id);
        }
        if (agentKind != AgentKinds.External)
        {
            return 0;
        }
        var cutoff = time.GetUtcNow() - LapsedWorkGrace;
        var lapsed = items.Values.Where(w => !WorkStatuses.IsFinal(w.Status) && w.Deadline < cutoff).ToList();
        foreach (var gone in lapsed)
        {
            items.Remove(gone.Id);
        }
        return lapsed.Count(w => w.Kind == WorkKinds.Task);
    }

    private static readonly TimeSpan LapsedWorkGrace = TimeSpan.FromDays(1);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} is now {Status}")]
    private partial void LogStatus(string agentId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} is now {Health}")]
    private partial void LogHealth(string agentId, string health);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent {AgentId} gave up handing work {WorkId} to coordination after {Attempts} attempts")]
    private partial void LogAbandoned(string agentId, string workId, int attempts);
}
