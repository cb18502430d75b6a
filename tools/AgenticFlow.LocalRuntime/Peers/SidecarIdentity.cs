using System.Security.Cryptography;
using System.Text;

namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>Who one sidecar is among all of the machine's: its app, its instance, the key its peers present, and
/// when it started (the oldest live replica of an app runs that app's workflows).</summary>
public sealed class SidecarIdentity(string appId, string instanceId, string peerKey, long startedAt)
{
    public string AppId { get; } = appId;
    public string InstanceId { get; } = instanceId;
    public string PeerKey { get; } = peerKey;
    public long StartedAt { get; } = startedAt;

    /// <summary>App id and instance id together, as placement and the name registry name a sidecar.</summary>
    public string Identity => AppId + "/" + InstanceId;

    /// <summary>True when <paramref name="presented"/> is this sidecar's peer key (compared in constant time).</summary>
    public bool IsPeerKey(string? presented) => SameSecret(presented, PeerKey);

    public static bool SameSecret(string? presented, string expected) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}
