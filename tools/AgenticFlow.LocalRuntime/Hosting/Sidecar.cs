using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Secrets;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Timing;
using AgenticFlow.LocalRuntime.Tracing;
using AgenticFlow.LocalRuntime.Universal;
using AgenticFlow.LocalRuntime.Workflows;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>
/// One sidecar put together: it makes the building blocks its app is offered (state, pub/sub, secrets, bindings,
/// invocation, actors, workflow leadership, metadata) from its loaded components, each with only the collaborators
/// it needs, and runs the sidecar's lifecycle: registration, waiting for the app, its subscriptions and input bindings.
/// The wire adapters get the building blocks, not this class.
/// </summary>
public sealed class Sidecar : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly NameRegistry _names;
    private readonly List<IAsyncDisposable> _subscriptions = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _registration;
    private SidecarAddress? _address;
    private int _disposed;

    public Sidecar(SidecarOptions options, ComponentRegistry components, NameRegistry names, IHttpClientFactory http, ILoggerFactory loggers,
        SecretScopes? secretScopes = null, TimeProvider? time = null, TracingSpec? tracing = null)
    {
        Time = time ?? TimeProvider.System;
        Options = options;
        Components = components;
        _names = names;
        _logger = loggers.CreateLogger("sidecar." + options.AppId);
        tracing ??= TracingSpec.Off;
        Tracer = new SidecarTracer(options.AppId + "-sidecar", tracing, tracing.Records
            ? new SpanExporter(options.AppId, tracing, http.CreateClient(TelemetryClient), loggers.CreateLogger("tracing." + options.AppId))
            : null, Time);
        var instanceId = options.InstanceId ?? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + options.HttpPort;
        Self = new SidecarIdentity(options.AppId, instanceId, NameRegistry.NewPeerKey(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        if (options.AppPort is { } port)
        {
            var client = http.CreateClient("app");
            client.BaseAddress = new Uri($"http://{options.AppChannelAddress}:{port}");
            App = new AppChannel(client, options.AppApiToken);
            Delivery = new Delivery(options.AppId, App, loggers.CreateLogger("delivery." + options.AppId), Tracer);
        }
        var peerClient = () => http.CreateClient("peer");
        Actors = new ActorRuntime(new ActorHostContext(options.AppId, Self.Identity, App, components.ActorStateStore, peerClient, _ready.Task) { Time = Time },
            names, loggers.CreateLogger("actors." + options.AppId));
        Metadata = new SidecarMetadata(options.AppId, new AppConnection(options.AppPort, options.AppChannelAddress), components.Specs, Actors, _ready.Task);
        ActorApi = new ActorApi(Actors, options.AppId, Time);
        State = new StateApi(components.StateStores);
        Publish = new PublishApi(options.AppId, components.PubSubs, Time);
        Secrets = new SecretsApi(components.SecretStores, secretScopes ?? SecretScopes.Open);
        Bindings = new BindingsApi(components.Bindings);
        Targets = new InvocationTargets(Self, names, App, peerClient, Tracer);
        Leadership = new WorkflowLeadership(Self, names);
    }

    /// <summary>The named HttpClient spans are sent with: it carries no trace context of its own.</summary>
    public const string TelemetryClient = "telemetry";

    public SidecarOptions Options { get; }

    /// <summary>This sidecar's spans, as its Configuration's <c>spec.tracing</c> asks (see Tracing).</summary>
    public SidecarTracer Tracer { get; }

    /// <summary>The clock of this sidecar's timers, retries and message expiry.</summary>
    public TimeProvider Time { get; }
    public ComponentRegistry Components { get; }
    public SidecarIdentity Self { get; }
    public AppChannel? App { get; }
    public Delivery? Delivery { get; }
    public ActorRuntime Actors { get; }
    public ActorApi ActorApi { get; }
    public StateApi State { get; }
    public PublishApi Publish { get; }
    public SecretsApi Secrets { get; }
    public BindingsApi Bindings { get; }
    public InvocationTargets Targets { get; }
    public WorkflowLeadership Leadership { get; }
    public SidecarMetadata Metadata { get; }

    public string PeerKey => Self.PeerKey;
    public string InstanceId => Self.InstanceId;

    /// <summary>This sidecar among all of the machine's, as placement names it.</summary>
    public string Identity => Self.Identity;

    /// <summary>The sidecar of this app id that runs its workflows, when it is another one (see <see cref="WorkflowLeadership"/>).</summary>
    public SidecarAddress? WorkflowLeader() => Leadership.Leader();

    /// <summary>True when no API token is configured or <paramref name="presented"/> is it (compared in constant time).</summary>
    public bool IsApiToken(string? presented) => Options.DaprApiToken is not { } token || SidecarIdentity.SameSecret(presented, token);

    public bool IsReady => Metadata.IsReady;

    /// <summary>Completes once the app's actor types and subscriptions are loaded.</summary>
    public Task WhenReady => _ready.Task;
    public CancellationToken Lifetime => Metadata.Lifetime;

    /// <summary>Registers the sidecar's address, waits for the app's port, then loads its subscriptions and input bindings.</summary>
    public async Task StartAsync(ResourceSet resources, int httpPort, int grpcPort)
    {
        var ct = Lifetime;
        var address = new SidecarAddress(Options.AppId, InstanceId, httpPort, grpcPort, Environment.ProcessId, PeerKey, StartedAt: Self.StartedAt, ProcessStartedAt: NameRegistry.ThisProcessStartedAt);
        _address = address;
        _registration = _names.Register(address);
        ColocatedSidecars.Add(Self, Targets);
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
            Metadata.Subscriptions.Add(subscription);
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
        try
        {
            return await RetryPolicy.AppStarting.RetryAsync(async () =>
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
            }, ex => ex is HttpRequestException, Time, ct);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            _logger.LogError(ex, "App {AppId} returned subscriptions the runtime cannot read; none loaded from it", Options.AppId);
            return [];
        }
    }

    private async Task RunCronAsync(BindingComponent binding, CancellationToken ct)
    {
        var next = binding.Schedule!.Next(DateTimeOffset.UtcNow);
        while (!ct.IsCancellationRequested)
        {
            await Time.DelayUntilAsync(next, ct);
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

    public async ValueTask DisposeAsync()
    {
        // Disposed by its host and again by the DI container that handed it out.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        ColocatedSidecars.Remove(Self);
        await Metadata.ShutdownAsync();
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
        // Last: the spans of the sidecar's final calls are sent too.
        await Tracer.DisposeAsync();
    }
}
