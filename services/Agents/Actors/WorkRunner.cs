using System.Collections.Concurrent;
using AgenticFlow.Agents.Clients;
using AgenticFlow.Agents.Domain;
using AgenticFlow.Agents.Llm;
using Dapr.Actors;
using Dapr.Actors.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Actors;

/// <summary>
/// Does an actor's long work outside its turns: an llm run, or handing a result to coordination. At most one of
/// each per work item runs in this process; what it produces goes back to the actor through its proxy. Anything
/// lost here (a crash, a timeout) is picked up again by the work's reminder.
/// </summary>
public sealed partial class WorkRunner(IActorProxyFactory proxies, LlmWork llm, A2aWork a2a, CoordinationClient coordination, IOptions<AgentsOptions> options,
    IHostApplicationLifetime lifetime, TimeProvider time, ILogger<WorkRunner> logger)
{
    private readonly ConcurrentDictionary<string, byte> _running = new(StringComparer.Ordinal);

    public IAgentActor Actor(string agentId) => proxies.CreateActorProxy<IAgentActor>(new ActorId(agentId), AgentActor.TypeName);

    // One key per work item for both jobs: a report never overlaps the run that leads into it, nor another report.
    public void StartRun(string agentId, string workId) => Start(agentId + "/" + workId, () => RunAsync(agentId, workId));

    public void StartReport(string agentId, string workId) => Start(agentId + "/" + workId, () => ReportAsync(agentId, workId, lifetime.ApplicationStopping));

    private void Start(string key, Func<Task> work)
    {
        if (!_running.TryAdd(key, 0))
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await work();
            }
            catch (Exception ex)
            {
                // The work's reminder tries again; nothing is lost by stopping here.
                LogWorkFailed(ex, key);
            }
            finally
            {
                _running.TryRemove(key, out _);
            }
        });
    }

    private async Task RunAsync(string agentId, string workId)
    {
        var actor = Actor(agentId);
        if ((await actor.Get()).Agent is not { } agent || (await actor.GetWork(workId)).Work is not { } work || WorkStatuses.IsFinal(work.Status)
            || work.Status == WorkStatuses.AwaitingApproval)
        {
            return;
        }
        RunOutcome outcome;
        if (work.Deadline is { } deadline && deadline < time.GetUtcNow())
        {
            outcome = new RunOutcome(false, true, null, [], null, "the deadline passed before the task could run", null, null);
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.LlmTimeoutSeconds));
            try
            {
                outcome = agent.Kind == AgentKinds.A2a
                    ? await a2a.RunAsync(agent, work, timeout.Token)
                    : await llm.RunAsync(agent, work, (call, result) => actor.RecordToolCall(workId, call, result), timeout.Token);
            }
            catch (Exception ex) when (!lifetime.ApplicationStopping.IsCancellationRequested)
            {
                LogRunFailed(ex, agentId, workId);
                // The providers service refusing the request itself (no provider serves the model, a bad prompt) will
                // refuse it again: the work fails now. Anything else is tried again.
                var refused = ex is ProvidersUnavailableException { Status: >= 400 and < 500 and not 408 and not 429 };
                outcome = new RunOutcome(false, refused, null, [], null, ex.Message, null, null);
            }
        }
        var finished = await actor.FinishRun(workId, outcome);
        if (finished.Work is { } done && WorkStatuses.IsFinal(done.Status))
        {
            await ReportAsync(agentId, workId, lifetime.ApplicationStopping);
        }
    }

    /// <summary>Hands a finished work item to coordination and records how that went.</summary>
    public async Task<Handover?> ReportAsync(string agentId, string workId, CancellationToken ct)
    {
        var actor = Actor(agentId);
        if ((await actor.GetWork(workId)).Work is not { Report: ReportStatuses.Pending } work)
        {
            return null;
        }
        var handover = await coordination.ReportAsync(agentId, work, ct);
        await actor.MarkReported(workId, work.TaskAttempt, handover switch
        {
            Handover.Done => ReportStatuses.Done,
            Handover.Rejected => ReportStatuses.Rejected,
            _ => ReportStatuses.Pending,
        });
        return handover;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background work {Key} stopped; its reminder retries it")]
    private partial void LogWorkFailed(Exception ex, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The llm run of work {WorkId} for agent {AgentId} failed; it is retried")]
    private partial void LogRunFailed(Exception ex, string agentId, string workId);
}
