using System.Collections.Concurrent;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.PubSub;

namespace AgenticFlow.LocalRuntime.Universal;

/// <summary>Where the sidecar's app listens, as the metadata API reports it.</summary>
public sealed record AppConnection(int? Port, string ChannelAddress);

/// <summary>
/// What a sidecar says about itself (daprd's metadata API) and its lifecycle, whatever the wire: its app, loaded
/// components, subscriptions, actors, the app's own extended metadata, whether it is ready, and the shutdown an app may ask for.
/// </summary>
/// <param name="ready">Completes once the sidecar has loaded its app's actor types and subscriptions.</param>
public sealed class SidecarMetadata(string appId, AppConnection app, IReadOnlyList<ComponentSpec> components, ActorRuntime actors, Task ready)
{
    public const string RuntimeVersion = "agenticflow-local-1.0";

    private readonly ConcurrentDictionary<string, string> _extended = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _lifetime = new();

    public string AppId => appId;
    public AppConnection App => app;
    public IReadOnlyList<ComponentSpec> Components => components;
    public ActorRuntime Actors => actors;
    public List<TopicSubscription> Subscriptions { get; } = [];
    public IReadOnlyDictionary<string, string> Extended => _extended;

    public void SetExtended(string key, string value) => _extended[key] = value;

    public bool IsReady => ready.IsCompleted;

    /// <summary>Ends when the app asks the sidecar to shut down, or its host stops it.</summary>
    public CancellationToken Lifetime => _lifetime.Token;
    public void Shutdown() => _lifetime.Cancel();
    public Task ShutdownAsync() => _lifetime.CancelAsync();

    public static string[] Capabilities(string type) => type switch
    {
        "state.in-memory" or "state.sqlite" or "state.redis" or "state.postgresql" => ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"],
        "pubsub.redis" or "pubsub.in-memory" => ["BULK_PUBLISH", "BULK_SUBSCRIBE"],
        _ => [],
    };
}
