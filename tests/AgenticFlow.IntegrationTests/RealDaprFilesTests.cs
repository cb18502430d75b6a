using System.Diagnostics;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// The repository's run file, components and Configurations read the way the Dapr CLI and daprd read them, not the
/// way the local runtime does: the CLI resolves an app's paths against its appDirPath and runs daprd (and the app)
/// there; daprd's PostgreSQL components parse connection strings with pgx; daprd reads no duration on exponential
/// retries; the CLI gives the app APP_PORT, not ASPNETCORE_URLS.
/// </summary>
public sealed class RealDaprFilesTests
{
    private static readonly string Repo = PlatformHarness.Repository;

    private static YamlMappingNode Load(string file) => (YamlMappingNode)Yaml(file).Documents[0].RootNode;

    private static YamlStream Yaml(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(file);
        stream.Load(reader);
        return stream;
    }

    private static string? Scalar(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? (value as YamlScalarNode)?.Value : null;

    private static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    /// <summary>Each app of dapr.yaml as the Dapr CLI sees it: its folder, and its paths resolved against that folder.</summary>
    private static IEnumerable<(string AppId, string Dir, YamlMappingNode Node)> Apps()
    {
        var root = Load(Path.Combine(Repo, "dapr.yaml"));
        foreach (var app in ((YamlSequenceNode)Child(root, "apps")!).Children.Cast<YamlMappingNode>())
        {
            yield return (Scalar(app, "appID")!, Path.GetFullPath(Path.Combine(Repo, Scalar(app, "appDirPath")!)), app);
        }
    }

    [Fact]
    public void RunFile_PathsResolveWhereTheDaprCliLooks()
    {
        var root = Load(Path.Combine(Repo, "dapr.yaml"));
        var common = Path.GetFullPath(Path.Combine(Repo, Scalar(Child(root, "common"), "resourcesPath")!));
        Assert.True(Directory.Exists(common), common);
        foreach (var (appId, dir, app) in Apps())
        {
            Assert.True(Directory.Exists(dir), $"{appId}: appDirPath {dir}");
            // An app's own configFilePath is relative to its appDirPath.
            var config = Path.GetFullPath(Path.Combine(dir, Scalar(app, "configFilePath") ?? throw new Xunit.Sdk.XunitException($"{appId} has no configFilePath")));
            Assert.True(File.Exists(config), $"{appId}: configFilePath {config}");
            Assert.Equal("Configuration", Scalar(Load(config), "kind"));
            // The command runs in appDirPath; the project it names must be there.
            var command = ((YamlSequenceNode)Child(app, "command")!).Children.Select(c => ((YamlScalarNode)c).Value!).ToList();
            var project = command.SkipWhile(c => c != "--project").Skip(1).FirstOrDefault();
            Assert.True(project is null ? Directory.GetFiles(dir, "*.csproj").Length == 1 : Directory.Exists(Path.Combine(dir, project)), $"{appId}: the project its command runs");
        }
    }

    [Fact]
    public void ComponentFiles_NameFilesThatExistFromEveryAppsFolder_AndPostgresStringsPgxCanParse()
    {
        foreach (var profile in Directory.GetDirectories(Path.Combine(Repo, "components")))
        {
            var secretsFiles = new Dictionary<string, JsonElement>();
            foreach (var file in Directory.GetFiles(profile, "*.yaml"))
            {
                foreach (var document in Yaml(file).Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(d => Scalar(d, "kind") == "Component"))
                {
                    var type = Scalar(Child(document, "spec"), "type")!;
                    var metadata = ((YamlSequenceNode?)Child(Child(document, "spec"), "metadata"))?.Children.Cast<YamlMappingNode>().ToList() ?? [];
                    string? Value(string name) => metadata.Where(m => Scalar(m, "name") == name).Select(m => Scalar(m, "value")).FirstOrDefault();
                    foreach (var (appId, dir, _) in Apps())
                    {
                        // daprd runs in the app's folder, so relative file paths are taken from there.
                        if (type == "secretstores.local.file")
                        {
                            var secrets = Path.GetFullPath(Path.Combine(dir, Value("secretsFile")!));
                            Assert.True(File.Exists(secrets), $"{file}: secretsFile seen from {appId}'s folder: {secrets}");
                            secretsFiles[Scalar(Child(document, "metadata"), "name")!] = JsonDocument.Parse(File.ReadAllText(secrets)).RootElement.Clone();
                        }
                        if (type == "state.sqlite" && Value("connectionString") is { } sqlite && !sqlite.Contains('='))
                        {
                            var folder = Path.GetDirectoryName(Path.GetFullPath(Path.Combine(dir, sqlite)))!;
                            Assert.True(Directory.Exists(folder), $"{file}: daprd does not create {folder} for the SQLite file");
                        }
                    }
                }
            }
            foreach (var file in Directory.GetFiles(profile, "*.yaml"))
            {
                foreach (var document in Yaml(file).Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(d => Scalar(Child(d, "spec"), "type") == "state.postgresql"))
                {
                    var metadata = ((YamlSequenceNode)Child(Child(document, "spec"), "metadata")!).Children.Cast<YamlMappingNode>();
                    var entry = metadata.Single(m => Scalar(m, "name") == "connectionString");
                    var text = Scalar(entry, "value") ?? Secret(secretsFiles[Scalar(Child(document, "auth"), "secretStore")!], Scalar(Child(entry, "secretKeyRef"), "name")!);
                    AssertPgx(text, file);
                }
            }
        }
    }

    /// <summary>A secret of a local file store with ':' as nested separator, as daprd flattens it.</summary>
    private static string Secret(JsonElement file, string name)
    {
        var element = file;
        foreach (var part in name.Split(':'))
        {
            element = element.GetProperty(part);
        }
        return element.GetString()!;
    }

    private static void AssertPgx(string text, string where)
    {
        if (text.StartsWith("postgres://", StringComparison.Ordinal) || text.StartsWith("postgresql://", StringComparison.Ordinal))
        {
            return;
        }
        Assert.DoesNotContain(";", text);
        string[] known = ["host", "hostaddr", "port", "user", "password", "dbname", "sslmode", "connect_timeout", "application_name", "search_path", "pool_max_conns", "pool_min_conns"];
        foreach (var pair in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var key = pair.Split('=', 2)[0];
            Assert.True(known.Contains(key), $"{where}: '{key}' is not a key pgx reads (the string must be libpq key=value pairs or a URL, not Npgsql syntax)");
        }
    }

    [Fact]
    public void ResiliencyPolicies_SayOnlyWhatDaprdReads()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Repo, "components"), "*.yaml", SearchOption.AllDirectories))
        {
            foreach (var document in Yaml(file).Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(d => Scalar(d, "kind") == "Resiliency"))
            {
                var retries = (YamlMappingNode?)Child(Child(Child(document, "spec"), "policies"), "retries");
                foreach (var policy in retries?.Children.Values ?? Enumerable.Empty<YamlNode>())
                {
                    if (Scalar(policy, "policy") == "exponential")
                    {
                        Assert.Null(Child(policy, "duration"));
                    }
                }
            }
        }
    }

    [Fact]
    public void TyeNamesNoConfigurationPath()
    {
        var tye = Load(Path.Combine(Repo, "tye.yaml"));
        foreach (var extension in ((YamlSequenceNode)Child(tye, "extensions")!).Children)
        {
            // Tye's Dapr extension takes a name it looks up under the components path, never a path.
            Assert.True(Scalar(extension, "config") is not { } config || !config.Contains('/') && !config.EndsWith(".yaml", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task AService_ListensOnAppPort_AsDaprRunGivesIt()
    {
        var port = TestSidecar.FreePort();
        var app = PlatformHarness.Apps.Single(a => a.AppId == "providers");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, PlatformHarness.AssemblyOf(app) + ".dll"));
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment["APP_PORT"] = port.ToString();
        info.Environment["DAPR_HTTP_PORT"] = TestSidecar.FreePort().ToString();
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Eventually.True(async () =>
            {
                try
                {
                    return (await http.GetAsync("/healthz")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, $"the service to answer on APP_PORT {port}", 60);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
