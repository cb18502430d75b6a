using System.IO.Hashing;
using System.Text;

namespace AgenticFlow.Coordination.Domain;

/// <summary>
/// A consistent-hash ring: each node stands on the ring at <c>virtualNodes</c> points, and a key belongs to the
/// first point clockwise from its own hash. Removing a node takes away only its points, so only the keys that were
/// its own move (each to the next point clockwise); every other key keeps its owner.
/// </summary>
public sealed class HashRing
{
    public const int DefaultVirtualNodes = 128;

    private readonly ulong[] _points;
    private readonly string[] _owners;

    public HashRing(IEnumerable<string> nodes, int virtualNodes = DefaultVirtualNodes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(virtualNodes, 1);
        var points = new List<(ulong Point, string Owner)>();
        foreach (var node in nodes.Distinct(StringComparer.Ordinal))
        {
            for (var i = 0; i < virtualNodes; i++)
            {
                points.Add((Hash($"{node}#{i}"), node));
            }
        }
        // Ties between two nodes' points (astronomically rare with 64 bits) are broken by name, so every replica agrees.
        points.Sort((a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(a.Owner, b.Owner));
        _points = points.Select(p => p.Point).ToArray();
        _owners = points.Select(p => p.Owner).ToArray();
        NodeCount = _owners.Distinct(StringComparer.Ordinal).Count();
    }

    public int NodeCount { get; }

    public static ulong Hash(string text) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text));

    /// <summary>The node that owns <paramref name="key"/>; null on an empty ring.</summary>
    public string? Owner(string key) => Walk(key).FirstOrDefault();

    /// <summary>Every node once, in the order met walking clockwise from <paramref name="key"/>: the owner first, then
    /// the nodes a key falls to when the ones before it cannot take it.</summary>
    public IEnumerable<string> Walk(string key)
    {
        if (_points.Length == 0)
        {
            yield break;
        }
        var start = Array.BinarySearch(_points, Hash(key));
        if (start < 0)
        {
            start = ~start;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < _points.Length && seen.Count < NodeCount; i++)
        {
            var owner = _owners[(start + i) % _points.Length];
            if (seen.Add(owner))
            {
                yield return owner;
            }
        }
    }
}
