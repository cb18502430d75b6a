using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Timing;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>
/// The actor building block of one sidecar. It learns the app's actor types from <c>GET /dapr/config</c>,
/// announces them in the name registry (placement reads that), keeps this sidecar's activations with their
/// turn locks and timers, deactivates idle ones, and owns the reminders of the actors placed here.
/// Actor state and reminders live in the state component marked <c>actorStateStore: "true"</c>. Timers are in
/// <c>ActorRuntime.Timers.cs</c>, deactivation in <c>ActorRuntime.Deactivation.cs</c>.
/// </summary>
public sealed partial class ActorRuntime : IAsyncDisposable
{
    public const string ReentrancyHeader = "Dapr-Reentrancy-Id";

    private readonly ActorHostContext _host;
    private readonly NameRegistry _names;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string Type, string Id), ActiveActor> _active = new();
    private readonly CancellationTokenSource _stop = new();
    private ActorReminders? _reminders;
    private volatile bool _stopping;

    public ActorRuntime(ActorHostContext host, NameRegistry names, ILogger logger)
    {
        _host = host;
        _names = names;
        _logger = logger;
    }

    public ActorConfig Config { get; private set; } = ActorConfig.None;

    /// <summary>Set when the app registers actor types but the runtime cannot host them; every actor call reports it.</summary>
    public string? StartupError { get; private set; }

    public StateComponent? Store => _host.ActorStore;

    public int ActiveCount => _active.Count;

    public IEnumerable<(string Type, int Count)> ActiveByType() => _active.Keys.GroupBy(k => k.Type).Select(g => (g.Key, g.Count()));

    /// <summary>Reads the app's actor configuration and starts the idle scan and the reminders; returns the types to announce.</summary>
    public async Task<IReadOnlyList<string>> StartAsync(AppChannel app, CancellationToken ct)
    {
        Config = await ReadConfigAsync(app, ct);
        if (Config.Types.Count == 0)
        {
            return [];
        }
        var store = Store;
        if (store is null)
        {
            StartupError = $"app {_host.AppId} registers actor types ({string.Join(", ", Config.Types)}) but no state store component sets metadata actorStateStore: \"true\"; "
                + "mark exactly one state component as the actor state store to host actors";
            _logger.LogError("Actors are not available: {Error}", StartupError);
            return [];
        }
        _logger.LogInformation("App {AppId} hosts actor types {Types} (actor state in {Store})", _host.AppId, string.Join(", ", Config.Types), store.Name);
        _reminders = new ActorReminders(this, store.Store, _host.AppId, Config.Types, _logger);
        await _reminders.LoadAsync(ct);
        _ = Task.Run(() => ScanLoopAsync(_stop.Token), CancellationToken.None);
        _ = Task.Run(() => _reminders.RunAsync(_stop.Token), CancellationToken.None);
        return Config.Types;
    }

    private async Task<ActorConfig> ReadConfigAsync(AppChannel app, CancellationToken ct)
    {
        try
        {
            // The app may answer its port before its routes: a refused connection is tried again while it starts.
            return await RetryPolicy.AppStarting.RetryAsync(async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/dapr/config");
                using var response = await app.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode)
                {
                    return ActorConfig.None;
                }
                var text = await response.Content.ReadAsStringAsync(ct);
                if (string.IsNullOrWhiteSpace(text))
                {
                    return ActorConfig.None;
                }
                using var document = JsonDocument.Parse(text);
                return ActorConfig.Parse(document.RootElement);
            }, ex => ex is HttpRequestException, _host.Time, ct);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            StartupError = $"app {_host.AppId} returned an actor configuration the runtime cannot read: {ex.Message}";
            _logger.LogError("Actors are not available: {Error}", StartupError);
            return ActorConfig.None;
        }
    }

    public bool Hosts(string type) => Config.Types.Contains(type, StringComparer.Ordinal) && StartupError is null;

    /// <summary>How long a call waits for some app to host its actor type (an app starting or restarting),
    /// as daprd waits for its placement table, before it fails.</summary>
    public static readonly TimeSpan PlacementWait = TimeSpan.FromSeconds(5);

    /// <summary>Where the actor lives: null when here, else the sidecar to forward to.</summary>
    public async Task<SidecarAddress?> RemoteOwnerAsync(string type, string id, CancellationToken ct)
    {
        if (!_host.WhenReady.IsCompleted)
        {
            // This sidecar's own app may be about to announce the type.
            await _host.WhenReady.WaitAsync(PlacementWait, ct).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        if (StartupError is not null && Config.Types.Contains(type, StringComparer.Ordinal))
        {
            throw NotAvailable(StartupError);
        }
        var until = DateTime.UtcNow + PlacementWait;
        SidecarAddress? owner;
        while ((owner = ActorPlacement.Owner(_names.ActorHosts(type), type, id)) is null && DateTime.UtcNow < until)
        {
            await Task.Delay(250, ct);
            _names.Refresh();
        }
        if (owner is null)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_ACTOR_INSTANCE_MISSING",
                $"error finding address for actor {type}/{id}: no app hosts actor type {type}");
        }
        return owner.Identity == _host.Identity ? null : owner;
    }

    public bool IsLocal(string type, string id) =>
        ActorPlacement.Owner(_names.ActorHosts(type), type, id)?.Identity == _host.Identity;

    /// <summary>
    /// Delivers one turn to the app: waits for the actor's turn lock (or joins the running turn when reentrant),
    /// then sends the request <paramref name="build"/> makes, given the reentrancy id to carry.
    /// <paramref name="ct"/> only bounds the wait for the turn: once the app has the call, the turn lasts until the
    /// app answers, because the SDKs run the actor's code to the end whether or not the caller still listens.
    /// With <paramref name="checkPlacement"/>, a call for an actor that is not (or no longer) placed here throws
    /// <see cref="ActorMovedException"/> instead of activating it; calls forwarded by a peer are served regardless,
    /// so two sidecars that briefly disagree never bounce a call between them.
    /// </summary>
    public async Task<HttpResponseMessage> CallAppAsync(string type, string id, string? reentrancyId, Func<string?, HttpRequestMessage> build, bool checkPlacement, CancellationToken ct)
    {
        var app = _host.App ?? throw NotAvailable($"app {_host.AppId} has no app port, so it cannot host actors");
        if (!Hosts(type))
        {
            throw StartupError is not null ? NotAvailable(StartupError)
                : new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_ACTOR_INSTANCE_MISSING", $"app {_host.AppId} does not host actor type {type}");
        }
        var settings = Config.For(type);
        reentrancyId = settings.Reentrancy ? reentrancyId ?? Guid.NewGuid().ToString() : null;
        while (true)
        {
            if (_stopping)
            {
                throw NotAvailable($"the sidecar of app {_host.AppId} is stopping and takes no new actor turns");
            }
            var actor = _active.GetOrAdd((type, id), key => new ActiveActor(key.Type, key.Id));
            using (await actor.EnterAsync(reentrancyId, settings.MaxStackDepth, ct))
            {
                if (actor.Deactivated)
                {
                    // Deactivated while this call waited (idle, or handed over): look again before activating anew.
                    if (checkPlacement && !IsLocal(type, id))
                    {
                        throw new ActorMovedException();
                    }
                    continue;
                }
                if (checkPlacement && actor.Turns == 0 && !IsLocal(type, id))
                {
                    _active.TryRemove(new KeyValuePair<(string, string), ActiveActor>((type, id), actor));
                    actor.Deactivated = true;
                    throw new ActorMovedException();
                }
                if (actor.Turns == 0)
                {
                    await ReleaseElsewhereAsync(type, id);
                }
                actor.Turns++;
                using var request = build(reentrancyId);
                request.Headers.Remove(ReentrancyHeader);
                if (reentrancyId is not null)
                {
                    request.Headers.TryAddWithoutValidation(ReentrancyHeader, reentrancyId);
                }
                try
                {
                    return await app.SendAsync(request, CancellationToken.None);
                }
                catch (HttpRequestException ex)
                {
                    throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_ACTOR_INVOKE_METHOD",
                        $"error invoke actor method: app {_host.AppId} is not reachable: {ex.Message}");
                }
            }
        }
    }

    /// <summary>How long a new activation waits for other hosts to let go of the actor (their running turn ends first).</summary>
    public static readonly TimeSpan HandoverWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Before an actor's first turn here, every other host of its type is asked to deactivate any activation it
    /// still has (after a rebalance, the previous owner), and each answers once that activation's running turn has
    /// ended, so the actor never runs on two sidecars at once. With one host, nothing is asked. A host that does
    /// not answer within <see cref="HandoverWait"/> (gone, or two sidecars briefly disagreeing) is not waited for.
    /// </summary>
    private async Task ReleaseElsewhereAsync(string type, string id)
    {
        var others = _names.ActorHosts(type).Where(h => h.Identity != _host.Identity).ToList();
        if (others.Count == 0)
        {
            return;
        }
        using var limit = new CancellationTokenSource(HandoverWait);
        await Task.WhenAll(others.Select(async host =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{host.HttpPort}{PeerProtocol.ActorPath(type, id, "release")}");
                request.Headers.TryAddWithoutValidation(PeerProtocol.KeyHeader, host.PeerKey);
                using var response = await _host.PeerClient().SendAsync(request, limit.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                _logger.LogDebug("Host {Host} did not confirm it let go of actor {Type}/{Id}: {Reason}", host.Identity, type, id, ex.Message);
            }
        }));
    }

    /// <summary>Another host is about to activate the actor: deactivate it here, after its running turn.</summary>
    public async Task ReleaseAsync(string type, string id, CancellationToken ct)
    {
        if (_active.TryGetValue((type, id), out var actor))
        {
            await DeactivateAsync(actor, ct);
        }
    }

    public static string AppPath(string type, string id, string rest) => $"/actors/{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(id)}/{rest}";

    // ---- reminders ----

    public ActorReminders Reminders => _reminders ?? throw NotAvailable(StartupError ?? $"app {_host.AppId} hosts no actor types");

    // ---- state ----

    /// <summary>The key of one actor's state item in the actor state store, laid out as daprd does: <c>appId||type||id||key</c>.</summary>
    public string StateKey(string type, string id, string key) => $"{_host.AppId}||{type}||{id}||{key}";

    public IStateStore StateStore()
    {
        if (StartupError is not null)
        {
            throw NotAvailable(StartupError);
        }
        return Store?.Store ?? throw NotAvailable("actors need a state store component with metadata actorStateStore: \"true\"; none is loaded");
    }

    private static DaprError NotAvailable(string message) =>
        new(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.FailedPrecondition, "ERR_ACTOR_RUNTIME_NOT_FOUND", message);

    /// <summary>Takes no new turns, deactivates every activation (as daprd does on shutdown), each waiting for its
    /// running turn at most <c>drainOngoingCallTimeout</c>, capped at five seconds in all, then stops timers,
    /// reminders and scans.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        if (_host.App is not null && !_active.IsEmpty)
        {
            using var drain = new CancellationTokenSource(Config.DrainTimeout < TimeSpan.FromSeconds(5) ? Config.DrainTimeout : TimeSpan.FromSeconds(5));
            try
            {
                await Task.WhenAll(_active.Values.Select(actor => DeactivateAsync(actor, drain.Token)));
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("{Count} actors were still busy when the sidecar stopped; they were not deactivated", _active.Count);
            }
        }
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}

/// <summary>What the actor runtime needs of the sidecar it runs in: who it is, its app, the actor state store
/// (null when no component is marked <c>actorStateStore</c>), the pooled client for other sidecars, and a task that
/// completes once the sidecar has announced its app's actor types.</summary>
public sealed record ActorHostContext(string AppId, string Identity, AppChannel? App, StateComponent? ActorStore, Func<HttpClient> PeerClient, Task WhenReady)
{
    /// <summary>The clock timers wait on.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>The actor is placed on another sidecar now; the call is to be routed again.</summary>
public sealed class ActorMovedException() : Exception("the actor is placed on another sidecar");
