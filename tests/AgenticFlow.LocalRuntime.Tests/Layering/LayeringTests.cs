using System.Text.RegularExpressions;
using AgenticFlow.LocalRuntime.Hosting;
using Xunit.Abstractions;

namespace AgenticFlow.LocalRuntime.Tests.Layering;

/// <summary>The runtime's folders point one way: adapters → building blocks → what they stand on (see <see cref="LayerRules"/>).</summary>
public sealed partial class LayeringTests(ITestOutputHelper output)
{
    [Fact]
    public void RuntimeFolders_UseOnlyTheirOwnLayerOrBelow_AndFormNoCircle()
    {
        var graph = FolderReferences.Read(typeof(Sidecar).Assembly);
        Assert.True(graph.Count >= 10, "the runtime assembly was read: " + string.Join(", ", graph.Keys));
        var problems = LayerRules.Violations(graph);
        Assert.True(problems.Count == 0, "the runtime's layering is broken:\n" + string.Join("\n", problems));
        // The graph as read, for the test log: folder -> folders it uses.
        foreach (var (from, uses) in graph.OrderBy(g => LayerRules.LayerOf(g.Key)))
        {
            output.WriteLine($"{from} -> {string.Join(", ", uses.Keys.Order(StringComparer.Ordinal))}");
        }
    }

    [Fact]
    public void EverySourceFile_DeclaresTheNamespaceOfItsFolder()
    {
        var root = Path.Combine(RepositoryRoot(), "tools", "AgenticFlow.LocalRuntime");
        var wrong = new List<string>();
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        foreach (var file in files)
        {
            var folder = Path.GetDirectoryName(Path.GetRelativePath(root, file))!.Replace(Path.DirectorySeparatorChar, '.');
            var expected = folder.Length == 0 ? FolderReferences.RootNamespace : FolderReferences.RootNamespace + "." + folder;
            var declared = NamespaceLine().Match(File.ReadAllText(file));
            if (!declared.Success && folder.Length == 0)
            {
                // Program.cs: top-level statements, the program itself, above every folder.
                continue;
            }
            if (!declared.Success || declared.Groups[1].Value != expected)
            {
                wrong.Add($"{Path.GetRelativePath(root, file)} declares {(declared.Success ? declared.Groups[1].Value : "no namespace")}, not {expected}");
            }
        }
        Assert.True(files.Count > 50, "the runtime's sources were found under " + root);
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Violations_ReportAUseOfAFolderAbove()
    {
        var graph = Graph(("Actors", "Api"), ("Api", "Actors"));
        var problems = LayerRules.Violations(graph);
        Assert.Contains(problems, p => p.StartsWith("Actors uses Api, a layer above it", StringComparison.Ordinal));
    }

    [Fact]
    public void Violations_ReportACircleWithinOneLayer()
    {
        var graph = Graph(("Actors", "State"), ("State", "PubSub"), ("PubSub", "Actors"), ("Api", "Actors"));
        var problems = LayerRules.Violations(graph);
        var circle = Assert.Single(problems);
        Assert.StartsWith("folders use each other in a circle: Actors -> State -> PubSub -> Actors", circle, StringComparison.Ordinal);
    }

    [Fact]
    public void Violations_ReportAFolderInNoLayer()
    {
        var problems = LayerRules.Violations(Graph(("Api", "Helpers")));
        Assert.Contains(problems, p => p.StartsWith("folder Helpers is in no layer", StringComparison.Ordinal));
    }

    [Fact]
    public void FolderReferences_SeeUsesInsideMethodBodies()
    {
        // ActorRuntime reaches its peers through PeerProtocol only inside a lambda of an async method: the IL scan must see it.
        var graph = FolderReferences.Read(typeof(Sidecar).Assembly);
        Assert.Contains("Peers", graph["Actors"].Keys);
        Assert.Contains("Actors", graph["Api"].Keys);
    }

    private static Dictionary<string, Dictionary<string, string>> Graph(params (string From, string To)[] edges)
    {
        var graph = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (from, to) in edges)
        {
            (graph.TryGetValue(from, out var uses) ? uses : graph[from] = new(StringComparer.Ordinal))[to] = $"{from}.X uses {to}.Y";
        }
        return graph;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AgenticFlow.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("AgenticFlow.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^namespace ([\w\.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();
}
