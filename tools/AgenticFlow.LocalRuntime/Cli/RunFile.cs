using YamlDotNet.RepresentationModel;

namespace AgenticFlow.LocalRuntime.Cli;

public sealed record RunApp(
    string AppId,
    string AppDirPath,
    int? AppPort,
    int? HttpPort,
    int? GrpcPort,
    IReadOnlyList<string> Command,
    IReadOnlyDictionary<string, string> Env,
    IReadOnlyList<string> ResourcesPaths,
    string? ConfigPath,
    string LogLevel,
    int Replicas);

/// <summary>A Dapr multi-app run file (<c>dapr.yaml</c>): the same file <c>dapr run -f .</c> reads.</summary>
public static class RunFile
{
    /// <summary>The full path of the run file <c>run</c> was given: the file itself, or a folder's <c>dapr.yaml</c>.</summary>
    public static string Find(string path)
    {
        var file = Path.GetFullPath(Directory.Exists(path) ? Path.Combine(path, "dapr.yaml") : path);
        return File.Exists(file) ? file
            : throw new StartupException($"run file {file} does not exist; pass the multi-app run file to run: run -f dapr.yaml");
    }

    public static IReadOnlyList<RunApp> Load(string path)
    {
        path = Find(path);
        var baseDir = Path.GetDirectoryName(path)!;
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new StartupException($"run file {path} is not valid YAML at {Components.YamlErrors.Describe(ex)}; correct it", ex);
        }
        var root = stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode
            ?? throw new StartupException($"run file {path} is not a multi-app run file; give it an apps: list (see dapr.yaml)");
        var common = Map(root, "common");
        var commonEnv = Env(common);
        var commonResources = Resources(common, baseDir);
        var commonConfig = Scalar(common, "configFilePath");
        var apps = new List<RunApp>();
        if (Child(root, "apps") is not YamlSequenceNode list)
        {
            throw new StartupException($"run file {path} has no apps: list; list the apps to run under apps:");
        }
        foreach (var node in list.Children.OfType<YamlMappingNode>())
        {
            var appId = Scalar(node, "appID") ?? Scalar(node, "appId") ?? throw new StartupException($"run file {path}: an app has no appID; give every app an appID");
            var dir = Path.GetFullPath(Path.Combine(baseDir, Scalar(node, "appDirPath") ?? "."));
            var env = new Dictionary<string, string>(commonEnv, StringComparer.Ordinal);
            foreach (var (k, v) in Env(node))
            {
                env[k] = v;
            }
            var command = Child(node, "command") is YamlSequenceNode cmd
                ? cmd.Children.OfType<YamlScalarNode>().Select(s => s.Value!).ToList()
                : [];
            var resources = Resources(node, dir);
            // As the Dapr CLI does: an app's own paths are relative to its appDirPath, the common section's to the run file.
            var config = Scalar(node, "configFilePath") is { } own ? Path.GetFullPath(Path.Combine(dir, own))
                : commonConfig is null ? null : Path.GetFullPath(Path.Combine(baseDir, commonConfig));
            apps.Add(new RunApp(
                appId, dir,
                Int(node, "appPort"), Int(node, "daprHTTPPort"), Int(node, "daprGRPCPort"),
                command, env,
                resources.Count > 0 ? resources : commonResources.Count > 0 ? commonResources : [Path.Combine(baseDir, "components")],
                config,
                Scalar(node, "logLevel") ?? Scalar(common, "logLevel") ?? "info",
                Int(node, "replicas") ?? 1));
        }
        if (apps.Count == 0)
        {
            throw new StartupException($"run file {path} lists no apps; list the apps to run under apps:");
        }
        var duplicate = apps.GroupBy(a => a.AppId).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? apps : throw new StartupException($"run file {path}: app id '{duplicate.Key}' appears twice; give every app its own appID");
    }

    private static List<string> Resources(YamlMappingNode? node, string baseDir)
    {
        var list = new List<string>();
        if (Scalar(node, "resourcesPath") is { } one)
        {
            list.Add(Path.GetFullPath(Path.Combine(baseDir, one)));
        }
        if (Child(node, "resourcesPaths") is YamlSequenceNode many)
        {
            list.AddRange(many.Children.OfType<YamlScalarNode>().Select(s => Path.GetFullPath(Path.Combine(baseDir, s.Value!))));
        }
        return list;
    }

    private static Dictionary<string, string> Env(YamlMappingNode? node)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Map(node, "env") is { } map)
        {
            foreach (var (k, v) in map.Children)
            {
                env[((YamlScalarNode)k).Value!] = (v as YamlScalarNode)?.Value ?? "";
            }
        }
        return env;
    }

    private static YamlNode? Child(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static YamlMappingNode? Map(YamlMappingNode? node, string key) => Child(node, key) as YamlMappingNode;

    private static string? Scalar(YamlMappingNode? node, string key) => (Child(node, key) as YamlScalarNode)?.Value;

    private static int? Int(YamlMappingNode? node, string key) => int.TryParse(Scalar(node, key), out var v) ? v : null;
}
