using System.Net;
using System.Net.Sockets;
using AgenticFlow.LocalRuntime.Cli;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>
/// A start-up failure of <c>run -f</c> or <c>sidecar</c> is one line on stderr that names the app, the port or file,
/// and what to change; the exit code is non-zero; no stack trace unless asked for; nothing started stays running.
/// </summary>
public sealed class StartupErrorTests
{
    [Theory]
    [InlineData("daprHTTPPort", "dapr HTTP port")]
    [InlineData("daprGRPCPort", "dapr gRPC port")]
    public async Task TakenSidecarPort_RunFailsInOneLineNamingTheAppThePortAndTheSetting(string setting, string what)
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder();
        using var holder = HoldPort();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        var (http, grpc) = setting == "daprHTTPPort" ? (taken, TestSidecar.FreePort()) : (TestSidecar.FreePort(), taken);
        run.Add("dapr.yaml", $"""
            version: 1
            apps:
              - appID: gateway
                resourcesPath: {components.Path}
                daprHTTPPort: {http}
                daprGRPCPort: {grpc}
            """);

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains("app 'gateway'", line);
        Assert.Contains($"{what} {taken} is already in use", line);
        Assert.Contains($"change {setting} in dapr.yaml", line);
    }

    [Fact]
    public async Task TakenSidecarPort_SidecarCommandFailsInOneLineNamingThePortAndTheFlag()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var holder = HoldPort();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;

        await using var cli = RuntimeCli.Start(components.Path, "sidecar", "--app-id", "orders",
            "--dapr-http-port", TestSidecar.FreePort().ToString(), "--dapr-grpc-port", taken.ToString(), "--resources-path", components.Path);

        var line = await OneLineFailureAsync(cli);
        Assert.Contains("app 'orders'", line);
        Assert.Contains($"dapr gRPC port {taken} is already in use", line);
        Assert.Contains("--dapr-grpc-port", line);
    }

    [Fact]
    public async Task TakenAppPort_RunFailsInOneLineBeforeTheAppStarts()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder();
        using var holder = HoldPort();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        run.Add("dapr.yaml", $"""
            version: 1
            apps:
              - appID: messaging
                resourcesPath: {components.Path}
                appPort: {taken}
                command: ["sh", "-c", "echo started > started.txt; exec sleep 600"]
            """);

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains($"app 'messaging': app port {taken} is already in use", line);
        Assert.Contains("appPort in dapr.yaml", line);
        Assert.False(File.Exists(Path.Combine(run.Path, "started.txt")), "the app was started although its port is taken");
    }

    [Fact]
    public async Task ComponentFileThatDoesNotParse_FailsInOneLineNamingTheAppTheFileAndTheLine()
    {
        using var components = new ComponentsFolder().Add("broken.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: statestore
            spec: [type: state.in-memory
            """);
        using var run = new ComponentsFolder().Add("dapr.yaml", RunFileOf("gateway", components.Path));

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains("app 'gateway'", line);
        Assert.Contains(Path.Combine(components.Path, "broken.yaml") + ": invalid YAML at line ", line);
    }

    [Fact]
    public async Task ComponentOfAnUnsupportedType_FailsInOneLineNamingTheTypeAndTheSupportedOnes()
    {
        using var components = new ComponentsFolder().Add("cassandra.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: statestore
            spec:
              type: state.cassandra
              version: v1
            """);
        using var run = new ComponentsFolder().Add("dapr.yaml", RunFileOf("gateway", components.Path));

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains("app 'gateway'", line);
        Assert.Contains("cassandra.yaml: component 'statestore' has type 'state.cassandra'", line);
        Assert.Contains("state.sqlite", line);
    }

    [Fact]
    public async Task MissingConfigFile_FailsInOneLineNamingTheFileAndConfigFilePath()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder().Add("dapr.yaml", RunFileOf("providers", components.Path, "configFilePath: ./dapr-config/providers.yaml"));

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains($"app 'providers': configuration file {Path.Combine(run.Path, "dapr-config", "providers.yaml")} does not exist", line);
        Assert.Contains("configFilePath in dapr.yaml", line);
    }

    [Fact]
    public async Task MissingResourcesFolder_FailsInOneLineNamingTheFolderAndResourcesPath()
    {
        using var run = new ComponentsFolder();
        run.Add("dapr.yaml", RunFileOf("gateway", Path.Combine(run.Path, "components", "local")));

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains($"app 'gateway': resources path {Path.Combine(run.Path, "components", "local")} does not exist", line);
        Assert.Contains("resourcesPath in dapr.yaml", line);
    }

    [Fact]
    public async Task MissingRunFile_FailsInOneLineNamingTheFile()
    {
        using var run = new ComponentsFolder();

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains($"run file {Path.Combine(run.Path, "dapr.yaml")} does not exist", line);
    }

    [Fact]
    public async Task FailureAfterAnAppStarted_StopsThatAppBeforeExiting()
    {
        // The second app's cron binding fails only when its sidecar creates it, after the first app was started.
        using var components = new ComponentsFolder().State("in-memory").Add("tick.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: tick
            spec:
              type: bindings.cron
              version: v1
              metadata:
              - name: schedule
                value: "every now and then"
            scopes: [second]
            """);
        var marker = "started-by-" + Guid.NewGuid().ToString("N");
        using var run = new ComponentsFolder().Add("dapr.yaml", $"""
            version: 1
            common:
              resourcesPath: {components.Path}
            apps:
              - appID: first
                env:
                  TEST_MARKER: {marker}
                command: ["sh", "-c", "exec sleep 600"]
              - appID: second
            """);

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        var line = await OneLineFailureAsync(cli);
        Assert.Contains("app 'second'", line);
        Assert.Contains("tick.yaml: component 'tick' (bindings.cron) failed to start", line);
        Assert.Contains("== RUN - first == app stopped", cli.Stdout);
        Assert.Empty(ProcessesWithEnvironmentValue(marker));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DebugLogLevel_FromTheFlagOrTheAppsLogLevel_AddsTheStackTraceAfterTheLine(bool flag)
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder().Add("dapr.yaml",
            RunFileOf("gateway", components.Path, "configFilePath: ./missing.yaml" + (flag ? "" : "\n    logLevel: debug")));

        await using var cli = RuntimeCli.Start(run.Path, flag ? ["run", "-f", "dapr.yaml", "--log-level", "debug"] : ["run", "-f", "dapr.yaml"]);

        Assert.NotEqual(0, await cli.ExitCodeAsync(30));
        var lines = cli.Stderr.ToList();
        Assert.StartsWith("agenticflow-runtime: app 'gateway': configuration file ", lines[0]);
        Assert.Contains(lines.Skip(1), l => l.StartsWith("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AZipkinEndpointThatIsNoUrl_IsOneLineAtStart()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder().Add("dapr.yaml", RunFileOf("gateway", components.Path, "configFilePath: ./tracing.yaml"))
            .Add("tracing.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nspec:\n  tracing:\n    samplingRate: \"1\"\n    zipkin:\n      endpointAddress: \"monitoring:9411\"\n");

        await using var cli = RuntimeCli.Start(run.Path, ["run", "-f", "dapr.yaml"]);

        Assert.NotEqual(0, await cli.ExitCodeAsync(30));
        var line = Assert.Single(cli.Stderr, l => l.StartsWith("agenticflow-runtime:", StringComparison.Ordinal));
        Assert.Contains("endpointAddress 'monitoring:9411' is not an http(s) URL", line);
    }

    [Fact]
    public void RepositoryRunFile_SidecarPortsLieBelowTheEphemeralRange()
    {
        // Linux hands out 32768-60999 to outgoing connections, any of which could hold a sidecar's port at start.
        var apps = RunFile.Load(Path.Combine(OptionsAndFilesTests.RepositoryRoot(), "dapr.yaml"));
        Assert.All(apps, app =>
        {
            Assert.InRange(app.HttpPort!.Value, 1024, 32767);
            Assert.InRange(app.GrpcPort!.Value, 1024, 32767);
        });
    }

    [Theory]
    [InlineData(new[] { "-f", "a.yaml" }, "a.yaml", null)]
    [InlineData(new[] { "a.yaml", "--log-level", "debug" }, "a.yaml", "debug")]
    [InlineData(new[] { "--log-level=warn", "--run-file", "a.yaml" }, "a.yaml", "warn")]
    [InlineData(new string[0], ".", null)]
    public void RunArguments_TakeTheRunFileAndTheLogLevel(string[] args, string file, string? logLevel) =>
        Assert.Equal(new RunArguments(file, logLevel), RunArguments.Parse(args));

    [Theory]
    [InlineData("-f")]
    [InlineData("--verbose")]
    [InlineData("a.yaml", "b.yaml")]
    public void RunArguments_RejectWhatRunDoesNotTake(params string[] args) =>
        Assert.Throws<ArgumentException>(() => RunArguments.Parse(args));

    private static string RunFileOf(string appId, string resourcesPath, string extra = "") => $"""
        version: 1
        apps:
          - appID: {appId}
            resourcesPath: {resourcesPath}
            {extra}
        """;

    private static TcpListener HoldPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, TestSidecar.FreePort());
        listener.Start();
        return listener;
    }

    /// <summary>Exit code non-zero, exactly one line on stderr, and no stack trace anywhere in the output.</summary>
    private static async Task<string> OneLineFailureAsync(RuntimeCli cli)
    {
        Assert.NotEqual(0, await cli.ExitCodeAsync(30));
        var line = Assert.Single(cli.Stderr);
        Assert.StartsWith("agenticflow-runtime: ", line);
        Assert.DoesNotContain(cli.Stdout.Concat(cli.Stderr), l => l.Contains("   at ", StringComparison.Ordinal));
        return line;
    }

    private static List<int> ProcessesWithEnvironmentValue(string value)
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Contains(value, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or another user's.
            }
        }
        return found;
    }
}
