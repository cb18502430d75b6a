namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>
/// How sidecars of one machine call each other: paths under <see cref="Root"/>, accepted only with the called
/// sidecar's peer key in <see cref="KeyHeader"/>. A sidecar that refuses a stale key marks its answer with
/// <see cref="RefusedHeader"/>, so the caller can tell it from an app's own 403 and look the peer up again.
/// </summary>
public static class PeerProtocol
{
    public const string Root = "/__agenticflow/";
    public const string InvokePrefix = Root + "invoke/";
    public const string ActorsPrefix = Root + "actors/";
    public const string KeyHeader = "x-agenticflow-peer-key";
    public const string RefusedHeader = "x-agenticflow-peer-refused";

    /// <summary>A peer path of one actor: <c>/__agenticflow/actors/{type}/{id}/{rest}</c>.</summary>
    public static string ActorPath(string type, string id, string rest) =>
        $"{ActorsPrefix}{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(id)}/{rest}";
}
