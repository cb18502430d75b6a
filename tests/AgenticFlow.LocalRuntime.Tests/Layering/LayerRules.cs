namespace AgenticFlow.LocalRuntime.Tests.Layering;

/// <summary>
/// The runtime's layers, top to bottom. A folder may use folders of its own layer or below, never above; and no
/// folders may use each other in a circle (which would make two folders one piece that cannot be read apart).
/// </summary>
public static class LayerRules
{
    public static readonly IReadOnlyList<IReadOnlyList<string>> Layers =
    [
        // The program and its commands.
        [FolderReferences.RootFolder, "Cli"],
        // Host wiring: puts one sidecar together and starts its web host.
        ["Hosting"],
        // Wire adapters: the HTTP and gRPC APIs, thin translations over the layers below.
        ["Api"],
        // What the sidecar says about itself (daprd's universal metadata API).
        ["Universal"],
        // Reads resource files and builds each building block's components (stores, brokers, bindings, secret stores).
        ["Components"],
        // Building blocks: plain classes that know nothing of HTTP or gRPC APIs.
        ["Actors", "Workflows", "PubSub", "State", "Bindings", "Secrets"],
        // How a sidecar reaches its app and the other sidecars of the machine.
        ["Peers", "Channels"],
        // Shared mechanisms: the error a Dapr client sees, time and retries, JSON field reading, the sidecar's spans.
        ["Errors", "Timing", "Json", "Tracing"],
    ];

    public static int LayerOf(string folder)
    {
        for (var i = 0; i < Layers.Count; i++)
        {
            if (Layers[i].Contains(folder))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Every way <paramref name="graph"/> breaks the rules: unknown folders, uses of a folder above, and circles.</summary>
    public static List<string> Violations(IReadOnlyDictionary<string, Dictionary<string, string>> graph)
    {
        var problems = new List<string>();
        foreach (var folder in graph.Keys.Concat(graph.Values.SelectMany(v => v.Keys)).Distinct().Order(StringComparer.Ordinal))
        {
            if (LayerOf(folder) < 0)
            {
                problems.Add($"folder {folder} is in no layer: add it to {nameof(LayerRules)}.{nameof(Layers)} where it belongs");
            }
        }
        foreach (var (from, uses) in graph.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            foreach (var (to, example) in uses.OrderBy(u => u.Key, StringComparer.Ordinal))
            {
                if (LayerOf(from) >= 0 && LayerOf(to) >= 0 && LayerOf(to) < LayerOf(from))
                {
                    problems.Add($"{from} uses {to}, a layer above it ({example})");
                }
            }
        }
        foreach (var circle in Circles(graph))
        {
            problems.Add("folders use each other in a circle: " + string.Join(" -> ", circle.Append(circle[0])) + " ("
                + string.Join("; ", circle.Select((f, i) => graph[f][circle[(i + 1) % circle.Count]])) + ")");
        }
        return problems;
    }

    /// <summary>One circle through each group of folders that reach one another (Tarjan's strongly connected components).</summary>
    public static List<List<string>> Circles(IReadOnlyDictionary<string, Dictionary<string, string>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var circles = new List<List<string>>();
        IEnumerable<string> Next(string f) => graph.TryGetValue(f, out var uses) ? uses.Keys.Order(StringComparer.Ordinal) : [];

        void Visit(string folder)
        {
            index[folder] = low[folder] = index.Count;
            stack.Push(folder);
            onStack.Add(folder);
            foreach (var next in Next(folder))
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[folder] = Math.Min(low[folder], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[folder] = Math.Min(low[folder], index[next]);
                }
            }
            if (low[folder] != index[folder])
            {
                return;
            }
            var group = new HashSet<string>(StringComparer.Ordinal);
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                group.Add(member);
            }
            while (member != folder);
            if (group.Count > 1)
            {
                circles.Add(CircleWithin(group, folder));
            }
        }

        // A path inside the group from its first folder back to it, for the message.
        List<string> CircleWithin(HashSet<string> group, string start)
        {
            var path = new List<string> { start };
            var visited = new HashSet<string>(StringComparer.Ordinal) { start };
            bool Walk(string at)
            {
                foreach (var next in Next(at).Where(group.Contains))
                {
                    if (next == start)
                    {
                        return true;
                    }
                    if (visited.Add(next))
                    {
                        path.Add(next);
                        if (Walk(next))
                        {
                            return true;
                        }
                        path.RemoveAt(path.Count - 1);
                    }
                }
                return false;
            }
            Walk(start);
            return path;
        }

        foreach (var folder in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(folder))
            {
                Visit(folder);
            }
        }
        return circles;
    }
}
