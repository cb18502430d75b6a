using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;
using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>
/// Which sidecar hosts an actor: a consistent-hash ring over the sidecars whose apps registered the type, as
/// daprd's placement service builds. Each host gets <see cref="VirtualNodes"/> points on the ring; an actor
/// (type and id) belongs to the first point at or after its own hash. Adding or removing a host moves only
/// the actors that land on its points. Every sidecar computes the same ring from the same registry entries.
/// </summary>
public static class ActorPlacement
{
    public const int VirtualNodes = 100;

    // The registry hands out one list instance per cache period, so a ring is built once per host set.
    private static readonly ConditionalWeakTable<IReadOnlyList<SidecarAddress>, Ring> Rings = new();

    public static SidecarAddress? Owner(IReadOnlyList<SidecarAddress> hosts, string actorType, string actorId)
    {
        if (hosts.Count == 0)
        {
            return null;
        }
        if (hosts.Count == 1)
        {
            return hosts[0];
        }
        return Rings.GetValue(hosts, h => new Ring(h)).Find(Hash(actorType + "||" + actorId));
    }

    private static ulong Hash(string text) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text));

    private sealed class Ring
    {
        private readonly ulong[] _points;
        private readonly SidecarAddress[] _owners;

        public Ring(IReadOnlyList<SidecarAddress> hosts)
        {
            var points = new List<(ulong Point, SidecarAddress Host)>(hosts.Count * VirtualNodes);
            foreach (var host in hosts)
            {
                for (var i = 0; i < VirtualNodes; i++)
                {
                    points.Add((Hash(host.Identity + "#" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)), host));
                }
            }
            points.Sort((a, b) => a.Point.CompareTo(b.Point));
            _points = points.Select(p => p.Point).ToArray();
            _owners = points.Select(p => p.Host).ToArray();
        }

        public SidecarAddress Find(ulong hash)
        {
            var at = Array.BinarySearch(_points, hash);
            if (at < 0)
            {
                at = ~at;
            }
            return _owners[at == _points.Length ? 0 : at];
        }
    }
}
