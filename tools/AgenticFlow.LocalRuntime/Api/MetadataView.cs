using AgenticFlow.LocalRuntime.Universal;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>The sidecar's self-description, shaped like daprd's <c>GET /v1.0/metadata</c>.</summary>
public static class MetadataView
{
    public static object Build(SidecarMetadata sidecar) => new
    {
        id = sidecar.AppId,
        runtimeVersion = SidecarMetadata.RuntimeVersion,
        enabledFeatures = Array.Empty<string>(),
        components = sidecar.Components.Select(c => new { name = c.Name, type = c.Type, version = c.Version, capabilities = SidecarMetadata.Capabilities(c.Type) }),
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
            port = sidecar.App.Port,
            protocol = "http",
            channelAddress = sidecar.App.ChannelAddress,
        },
    };
}
