using System.Collections.Concurrent;

namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>
/// The sidecars running in this process (a multi-app run hosts every app's sidecar in one runtime process). An
/// invocation for one of them is handed to its invocation targets in memory instead of over a loopback HTTP
/// connection to its peer endpoint: the same call to the same app with the same headers, one hop fewer. A sidecar
/// is found only under the peer key the name registry gave for it, so a sidecar started again (new key) or another
/// process's sidecar is still called over HTTP, with every check of that path.
/// </summary>
public static class ColocatedSidecars
{
    private static readonly ConcurrentDictionary<string, (string PeerKey, InvocationTargets Targets)> Running = new(StringComparer.Ordinal);

    public static void Add(SidecarIdentity self, InvocationTargets targets) => Running[self.Identity] = (self.PeerKey, targets);

    /// <summary>Forgets <paramref name="self"/>, unless another sidecar took its identity since.</summary>
    public static void Remove(SidecarIdentity self)
    {
        if (Running.TryGetValue(self.Identity, out var entry) && entry.PeerKey == self.PeerKey)
        {
            Running.TryRemove(KeyValuePair.Create(self.Identity, entry));
        }
    }

    /// <summary>The targets of <paramref name="peer"/> when it runs in this process under the key the registry names.</summary>
    public static InvocationTargets? Find(SidecarAddress peer) =>
        Running.TryGetValue(peer.Identity, out var found) && SidecarIdentity.SameSecret(peer.PeerKey, found.PeerKey) ? found.Targets : null;
}
