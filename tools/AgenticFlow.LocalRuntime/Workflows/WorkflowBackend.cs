using System.Net;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.State;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>
/// The sidecar's workflow backend, made on first use: its <see cref="WorkflowEngine"/> keeps state in the state
/// component marked <c>actorStateStore: "true"</c>, under the sidecar's app id (daprd keys workflow state by app id).
/// Made lazily so a sidecar without workflows needs no actor store; the app's worker connects at start, so after a
/// restart the engine is made, and unfinished instances resumed, as soon as the app is back.
/// An engine is stopped as soon as another replica leads (checked on each call and each second): a replica that
/// leads again later makes a new one, which reads the store afresh.
/// </summary>
/// <param name="actorStore">The state component marked <c>actorStateStore</c>; null when none is (each call then says so).</param>
/// <param name="stateStores">The names of the state components loaded, for that message.</param>
/// <param name="lifetime">The sidecar's lifetime: the engine and the leadership watch end with it.</param>
public sealed class WorkflowBackend(string appId, WorkflowLeadership leadership, StateComponent? actorStore, IReadOnlyCollection<string> stateStores,
    ILoggerFactory loggers, CancellationToken lifetime) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private WorkflowEngine? _engine;
    private readonly CancellationTokenSource _stopWatching = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
    private Task? _watching;

    /// <summary>The sidecar to pass workflow calls to when replicas of this app run (see <see cref="WorkflowLeadership"/>); null to serve here.</summary>
    public SidecarAddress? Leader() => leadership.Leader();

    public async Task<WorkflowEngine> EngineAsync(CancellationToken ct)
    {
        if (Leader() is null && Volatile.Read(ref _engine) is { } ready)
        {
            return ready;
        }
        await _gate.WaitAsync(ct);
        try
        {
            await StopIfNotLeaderAsync();
            if (Leader() is not null)
            {
                // The call was let through just before another replica took the lead: it must not start an engine here.
                throw new DaprError(HttpStatusCode.ServiceUnavailable, Grpc.Core.StatusCode.Unavailable, "ERR_WORKFLOW_BACKEND",
                    "another replica of this app runs its workflows now: call again");
            }
            if (_engine is { } made)
            {
                return made;
            }
            var component = actorStore ?? throw WorkflowErrors.ActorStoreMissing(stateStores);
            var engine = new WorkflowEngine(appId, new WorkflowStore(component.Store, appId), loggers.CreateLogger("workflows." + appId), lifetime);
            try
            {
                await engine.StartAsync(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await engine.DisposeAsync();
                throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_WORKFLOW_BACKEND",
                    $"the workflow backend could not read its state from actor state store {component.Name}: {ex.Message}");
            }
            Volatile.Write(ref _engine, engine);
            _watching ??= WatchLeadershipAsync();
            return engine;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops the engine when another replica leads, so it runs no workflows next to the leader's.
    /// Caller holds the gate.</summary>
    private async Task StopIfNotLeaderAsync()
    {
        if (_engine is { } engine && Leader() is not null)
        {
            Volatile.Write(ref _engine, null);
            await engine.DisposeAsync();
        }
    }

    private async Task WatchLeadershipAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopWatching.Token))
            {
                if (Volatile.Read(ref _engine) is not null && Leader() is not null)
                {
                    await _gate.WaitAsync(_stopWatching.Token);
                    try
                    {
                        await StopIfNotLeaderAsync();
                    }
                    finally
                    {
                        _gate.Release();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWatching.CancelAsync();
        if (_watching is not null)
        {
            await _watching;
        }
        _stopWatching.Dispose();
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
        _gate.Dispose();
    }
}
