using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Api;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.State;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>
/// The building blocks one sidecar offers its app, independent of the wire (HTTP or gRPC): state, publish,
/// subscriptions, secrets, bindings, invocation, metadata. The API classes translate to and from this.
/// </summary>
public sealed class Sidecar : IAsyncDisposable
{
    public const string RuntimeVersion = "agenticflow-local-1.0";
    public const string PeerKeyHeader = "x-agenticflow-peer-key";
    public const string PeerRefusedHeader = "x-agenticflow-peer-refused";

    private readonly ILogger _logger;
    private readonly NameRegistry _names;
    private readonly IHttpClientFactory _http;
    private readonly List<IAsyncDisposable> _subscriptions = [];
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<string, string> _extended = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _startedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private string? _registration;
    private SidecarAddress? _address;
    private int _disposed;

    public Sidecar(SidecarOptions options, ComponentRegistry components, NameRegistry names, IHttpClientFactory http, ILoggerFactory loggers, Secrets.SecretScopes? secretScopes = null)
    {
        Options = options;
        Components = components;
        SecretScopes = secretScopes ?? Secrets.SecretScopes.Open;
        _names = names;
        _http = http;
        _logger = loggers.CreateLogger("sidecar." + options.AppId);
        PeerKey = NameRegistry.NewPeerKey();
        InstanceId = options.InstanceId ?? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + options.HttpPort;
        Actors = new ActorRuntime(this, names, loggers.CreateLogger("actors." + options.AppId));
        if (options.AppPort is { } port)
        {
            var client = http.CreateClient("app");
            client.BaseAddress = new Uri($"http://{options.AppChannelAddress}:{port}");
            App = new AppChannel(client, options.AppApiToken);
            Delivery = new Delivery(options.AppId, App, loggers.CreateLogger("delivery." + options.AppId));
        }
    }

    public SidecarOptions Options { get; }

    /// <summary>Which secrets this app may read, from its Configuration (<c>--config</c>).</summary>
    public Secrets.SecretScopes SecretScopes { get; }
    public ComponentRegistry Components { get; }
    public AppChannel? App { get; }
    public Delivery? Delivery { get; }
    public string PeerKey { get; }

    /// <summary>True when <paramref name="presented"/> is this sidecar's peer key (compared in constant time).</summary>
    public bool IsPeerKey(string? presented) => SameSecret(presented, PeerKey);

    /// <summary>True when no API token is configured or <paramref name="presented"/> is it (compared in constant time).</summary>
    public bool IsApiToken(string? presented) => Options.DaprApiToken is not { } token || SameSecret(presented, token);

    private static bool SameSecret(string? presented, string expected) =>
        presented is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(presented), System.Text.Encoding.UTF8.GetBytes(expected));
    public string InstanceId { get; }

    /// <summary>This sidecar among all of the machine's, as placement names it.</summary>
    public string Identity => Options.AppId + "/" + InstanceId;
    public ActorRuntime Actors { get; }

    /// <summary>
    /// The sidecar of this app id that runs its workflows, when it is another one: the longest-running live
    /// instance (ties by identity), so a joining replica never takes over and one that dies hands over to the next.
    /// Null when this sidecar is that instance.
    /// </summary>
    public SidecarAddress? WorkflowLeader()
    {
        var leader = _names.Instances(Options.AppId).MinBy(a => (a.StartedAt, a.Identity), Comparer<(long, string)>.Create((x, y) =>
            x.Item1 != y.Item1 ? x.Item1.CompareTo(y.Item1) : string.CompareOrdinal(x.Item2, y.Item2)));
        if (leader is null || leader.Identity == Identity)
        {
            return null;
        }
        var older = leader.StartedAt < _startedAt || (leader.StartedAt == _startedAt && string.CompareOrdinal(leader.Identity, Identity) < 0);
        return older ? leader : null;
    }
    public List<TopicSubscription> Subscriptions { get; } = [];
    public bool IsReady => _ready.Task.IsCompleted;
    public IReadOnlyDictionary<string, string> Extended => _extended;

    /// <summary>Registers the sidecar's address, waits for the app's port, then loads its subscriptions and input bindings.</summary>
    public async Task StartAsync(ResourceSet resources, int httpPort, int grpcPort)
    {
        var ct = _lifetime.Token;
        var address = new SidecarAddress(Options.AppId, InstanceId, httpPort, grpcPort, Environment.ProcessId, PeerKey, StartedAt: _startedAt, ProcessStartedAt: NameRegistry.ThisProcessStartedAt);
        _address = address;
        _registration = _names.Register(address);
        if (App is null)
        {
            _ready.TrySetResult();
            return;
        }
        var waited = 0;
        while (!await App.IsReachableAsync(ct))
        {
            if (++waited % 50 == 0)
            {
                _logger.LogInformation("Waiting for app {AppId} to listen on {Address}", Options.AppId, App.BaseAddress);
            }
            await Task.Delay(100, ct);
        }
        var actorTypes = await Actors.StartAsync(App, ct);
        if (actorTypes.Count > 0)
        {
            // Announcing the types puts this sidecar into the placement of every sidecar that reads the registry.
            _names.Register(address with { ActorTypes = actorTypes });
            _names.Refresh();
        }
        var subscriptions = await LoadProgrammaticSubscriptionsAsync(ct);
        subscriptions.AddRange(resources.Subscriptions
            .Where(s => s.Scopes.Count == 0 || s.Scopes.Contains(Options.AppId))
            .Select(TopicSubscription.FromDeclarative));
        foreach (var subscription in subscriptions)
        {
            if (!Components.PubSubs.TryGetValue(subscription.PubSubName, out var pubsub))
            {
                _logger.LogWarning("App {AppId} subscribes to {Topic} on pub/sub {PubSub}, which is not loaded for it; ignored", Options.AppId, subscription.Topic, subscription.PubSubName);
                continue;
            }
            _subscriptions.Add(await pubsub.Broker.SubscribeAsync(subscription.Topic, Options.AppId, Delivery!.HandlerFor(subscription, pubsub, ct), ct));
            Subscriptions.Add(subscription);
            _logger.LogInformation("App {AppId} subscribed to {Topic} on {PubSub} ({Kind})", Options.AppId, subscription.Topic, subscription.PubSubName, subscription.Kind);
        }
        foreach (var binding in Components.Bindings.Values.Where(b => b.Schedule is not null))
        {
            _ = Task.Run(() => RunCronAsync(binding, ct), CancellationToken.None);
        }
        _ready.TrySetResult();
        _logger.LogInformation("Sidecar for {AppId} is ready", Options.AppId);
    }

    private async Task<List<TopicSubscription>> LoadProgrammaticSubscriptionsAsync(CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/dapr/subscribe");
                using var response = await App!.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode)
                {
                    // 404 is the usual "no subscriptions"; anything else is worth a line in the log.
                    if (response.StatusCode != HttpStatusCode.NotFound)
                    {
                        _logger.LogWarning("App {AppId} answered {Status} to GET /dapr/subscribe; no programmatic subscriptions loaded", Options.AppId, (int)response.StatusCode);
                    }
                    return [];
                }
                var text = await response.Content.ReadAsStringAsync(ct);
                return string.IsNullOrWhiteSpace(text) ? [] : TopicSubscription.FromProgrammatic(JsonDocument.Parse(text).RootElement);
            }
            catch (Exception ex) when (attempt < 20 && ex is HttpRequestException)
            {
                await Task.Delay(250, ct);
            }
            catch (Exception ex) when (ex is JsonException or FormatException)
            {
                _logger.LogError(ex, "App {AppId} returned subscriptions the runtime cannot read; none loaded from it", Options.AppId);
                return [];
            }
        }
    }

    private async Task RunCronAsync(BindingComponent binding, CancellationToken ct)
    {
        var next = binding.Schedule!.Next(DateTimeOffset.UtcNow);
        while (!ct.IsCancellationRequested)
        {
            var wait = next - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/" + binding.Name) { Content = AppChannel.Bytes([], "application/json") };
                request.Headers.TryAddWithoutValidation("timeZone", "UTC");
                using var response = await App!.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode)
                {
                    _logger.LogWarning("App answered {Status} to cron binding {Binding}", (int)response.StatusCode, binding.Name);
                }
            }
            catch (HttpRequestException ex)
            {
                _logger.LogWarning(ex, "Cron binding {Binding} could not reach the app", binding.Name);
            }
            next = binding.Schedule.Next(DateTimeOffset.UtcNow);
        }
    }

    // ---- state ----

    public StateComponent StateStore(string name)
    {
        if (Components.StateStores.Count == 0)
        {
            throw DaprError.StoresNotConfigured();
        }
        return Components.StateStores.TryGetValue(name, out var store) ? store : throw DaprError.StoreNotFound(name);
    }

    /// <summary>Runs a state call, turning store errors into daprd's error codes for that call.</summary>
    public static async Task<T> StateCall<T>(string failureCode, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (StateETagException ex) when (ex.IsInvalid)
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, failureCode, ex.Message);
        }
        catch (StateETagException ex)
        {
            throw new DaprError(HttpStatusCode.Conflict, Grpc.Core.StatusCode.Aborted, failureCode, ex.Message);
        }
        catch (Exception ex) when (ex is not DaprError and not OperationCanceledException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, failureCode, ex.Message);
        }
    }

    public Task SaveStateAsync(string storeName, IReadOnlyList<StateOperation> items, CancellationToken ct)
    {
        var store = StateStore(storeName);
        // Like daprd's bulk set, items are written one by one; the first failure is reported.
        return StateCall("ERR_STATE_SAVE", async () =>
        {
            foreach (var item in items)
            {
                await store.ExecuteAsync([item], ct);
            }
            return true;
        });
    }

    public Task TransactionAsync(string storeName, IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var store = StateStore(storeName);
        return StateCall("ERR_STATE_TRANSACTION", async () =>
        {
            await store.ExecuteAsync(operations, ct);
            return true;
        });
    }

    // ---- pub/sub ----

    public PubSubComponent PubSub(string name) =>
        Components.PubSubs.TryGetValue(name, out var p) ? p : throw DaprError.PubSubNotFound(name);

    public BrokerMessage BuildMessage(string pubsubName, string topic, byte[] data, string? contentType, IReadOnlyDictionary<string, string> metadata)
    {
        if (string.IsNullOrEmpty(topic))
        {
            throw new DaprError(HttpStatusCode.NotFound, Grpc.Core.StatusCode.InvalidArgument, "ERR_TOPIC_NAME_EMPTY", $"topic is empty in pubsub {pubsubName}");
        }
        var meta = new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        if (meta.TryGetValue("ttlInSeconds", out var ttlText))
        {
            if (!int.TryParse(ttlText, out var ttl) || ttl <= 0)
            {
                throw DaprError.Malformed($"ttlInSeconds '{ttlText}' must be a positive whole number");
            }
            meta["expiration"] = DateTimeOffset.UtcNow.AddSeconds(ttl).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        }
        var id = Guid.NewGuid().ToString();
        var isRaw = meta.TryGetValue("rawPayload", out var raw) && string.Equals(raw, "true", StringComparison.OrdinalIgnoreCase);
        if (isRaw)
        {
            meta["rawPayload"] = "true";
            meta["content-type"] = contentType ?? "application/octet-stream";
            return new BrokerMessage(id, data, meta);
        }
        try
        {
            var envelope = CloudEvents.Wrap(Options.AppId, pubsubName, topic, data, contentType, meta);
            return new BrokerMessage(id, envelope, meta);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_PUBSUB_CLOUD_EVENTS_SER", ex.Message);
        }
    }

    public async Task PublishAsync(string pubsubName, string topic, BrokerMessage message, CancellationToken ct)
    {
        var pubsub = PubSub(pubsubName);
        try
        {
            await pubsub.Broker.PublishAsync(topic, message, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_PUBSUB_PUBLISH_MESSAGE",
                $"error when publish to topic {topic} in pubsub {pubsubName}: {ex.Message}");
        }
    }

    // ---- secrets ----

    public IReadOnlyDictionary<string, string> GetSecret(string storeName, string key)
    {
        var store = SecretStoreNamed(storeName);
        if (!SecretScopes.Allows(storeName, key))
        {
            throw new DaprError(HttpStatusCode.Forbidden, Grpc.Core.StatusCode.PermissionDenied, "ERR_PERMISSION_DENIED",
                $"access denied by policy to get \"{key}\" from \"{storeName}\"");
        }
        return store.Store.Get(key) ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_SECRET_GET",
            $"failed getting secret with key {key} from secret store {storeName}: secret {key} not found");
    }

    /// <summary>Every secret of the store this app may read; the others are left out, as daprd does.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetBulkSecret(string storeName) =>
        SecretStoreNamed(storeName).Store.GetAll().Where(kv => SecretScopes.Allows(storeName, kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    private SecretStoreComponent SecretStoreNamed(string name)
    {
        if (Components.SecretStores.Count == 0)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.FailedPrecondition, "ERR_SECRET_STORES_NOT_CONFIGURED", "secret store is not configured");
        }
        return Components.SecretStores.TryGetValue(name, out var s) ? s : throw DaprError.SecretStoreNotFound(name);
    }

    // ---- bindings ----

    public async Task<BindingResponse> InvokeBindingAsync(string name, string operation, byte[] data, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        if (!Components.Bindings.TryGetValue(name, out var binding) || binding.Output is null)
        {
            throw DaprError.BindingNotFound(name);
        }
        try
        {
            return await binding.Output.InvokeAsync(operation, data, metadata, ct);
        }
        catch (Exception ex) when (ex is BindingException or FormatException or IOException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_INVOKE_OUTPUT_BINDING", $"error invoking output binding {name}: {ex.Message}");
        }
    }

    // ---- invocation ----

    /// <summary>Where a call for <paramref name="appId"/> goes: this sidecar's own app, or another sidecar.</summary>
    /// <summary>Forgets the sidecars found so far: one of them refused this sidecar's view of its peer key, so it
    /// was started again meanwhile and the next lookup must read its new entry.</summary>
    public void ForgetPeers() => _names.Refresh();

    public (bool Local, SidecarAddress? Remote) Route(string appId)
    {
        var id = appId.Split('.')[0];
        if (id == Options.AppId)
        {
            return (true, null);
        }
        var remote = _names.Resolve(id) ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Unavailable, "ERR_DIRECT_INVOKE",
            $"failed to invoke, id: {id}, err: no sidecar for app id {id} is running");
        return (false, remote);
    }

    public HttpClient PeerClient() => _http.CreateClient("peer");

    // ---- metadata ----

    public void SetMetadata(string key, string value) => _extended[key] = value;

    public void Shutdown() => _lifetime.Cancel();

    public CancellationToken Lifetime => _lifetime.Token;

    public Task WhenReady => _ready.Task;

    public async ValueTask DisposeAsync()
    {
        // Disposed by its host and again by the DI container that handed it out.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _lifetime.CancelAsync();
        if (_address is not null && Actors.Config.Types.Count > 0)
        {
            // Out of placement first, so other sidecars stop sending this one actor calls while its actors drain.
            try
            {
                _names.Register(_address);
                _names.Refresh();
            }
            catch (IOException)
            {
                // The registry folder is gone already: nobody can find this sidecar anyway.
            }
        }
        await Actors.DisposeAsync();
        foreach (var subscription in _subscriptions)
        {
            await subscription.DisposeAsync();
        }
        await Components.DisposeAsync();
        if (_registration is not null)
        {
            try
            {
                File.Delete(_registration);
            }
            catch (IOException)
            {
                // The registry folder went away first; nothing is left to unregister.
            }
        }
        App?.Dispose();
        _lifetime.Dispose();
    }
}
