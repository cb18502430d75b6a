using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>
/// Which sidecar of an app runs its workflows: the longest-running live instance (ties by identity), so a joining
/// replica never takes over and one that dies hands over to the next.
/// </summary>
public sealed class WorkflowLeadership(SidecarIdentity self, NameRegistry names)
{
    /// <summary>The sidecar of this app id that runs its workflows, when it is another one; null when it is this one.</summary>
    public SidecarAddress? Leader()
    {
        var leader = names.Instances(self.AppId).MinBy(a => (a.StartedAt, a.Identity), Comparer<(long, string)>.Create((x, y) =>
            x.Item1 != y.Item1 ? x.Item1.CompareTo(y.Item1) : string.CompareOrdinal(x.Item2, y.Item2)));
        if (leader is null || leader.Identity == self.Identity)
        {
            return null;
        }
        var older = leader.StartedAt < self.StartedAt || (leader.StartedAt == self.StartedAt && string.CompareOrdinal(leader.Identity, self.Identity) < 0);
        return older ? leader : null;
    }
}
