using AgenticFlow.LocalRuntime.Hosting;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>The sidecar's self-description, shaped like daprd's <c>GET /v1.0/metadata</c>.</summary>
public static class MetadataView
{
    public static object Build(Sidecar sidecar) => new
    {
        id = sidecar.Options.AppId,
        runtimeVersion = Sidecar.RuntimeVersion,
        enabledFeatures = Array.Empty<string>(),
        components = sidecar.Components.Specs.Select(c => new { name = c.Name, type = c.Type, version = c.Version, capabilities = Capabilities(c.Type) }),
        extended = sidecar.Extended,
        actorRuntime = new
        {
            runtimeStatus = sidecar.Actors.StartupError is null ? "RUNNING" : "ERROR",
            error = sidecar.Actors.StartupError,
            activeActors = sidecar.Actors.ActiveByType().Select(a => new { type = a.Type, count = a.Count }),
            hostReady = sidecar.Actors.Config.Types.Count > 0 && sidecar.Actors.StartupError is null,
            placement = "local registry (consistent hashing)",
        },
        subscriptions = sidecar.Subscriptions.Select(s => new
        {
            pubsubname = s.PubSubName,
            topic = s.Topic,
            deadLetterTopic = s.DeadLetterTopic,
            metadata = s.Metadata,
            rules = s.Rules.Select(r => new { match = r.Match, path = r.Path })
                .Concat(s.DefaultRoute is null ? [] : [new { match = "", path = s.DefaultRoute }]),
            type = s.Kind == "declarative" ? "DECLARATIVE" : "PROGRAMMATIC",
        }),
        appConnectionProperties = new
        {
            port = sidecar.Options.AppPort,
            protocol = "http",
            channelAddress = sidecar.Options.AppChannelAddress,
        },
    };

    public static string[] Capabilities(string type) => type switch
    {
        "state.in-memory" or "state.sqlite" or "state.redis" or "state.postgresql" => ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"],
        "pubsub.redis" or "pubsub.in-memory" => ["BULK_PUBLISH", "BULK_SUBSCRIBE"],
        _ => [],
    };
}
