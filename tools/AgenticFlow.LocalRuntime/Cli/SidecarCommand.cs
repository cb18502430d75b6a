using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary><c>sidecar</c>: one sidecar for an app started elsewhere, with daprd's flags, until Ctrl+C or SIGTERM.</summary>
public static class SidecarCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var options = SidecarOptions.Parse(args, Environment.GetEnvironmentVariable);
        var checks = new AppStartupChecks(options.AppId, SettingNames.SidecarFlags,
            debug: SidecarHost.ParseLevel(options.LogLevel) == Microsoft.Extensions.Logging.LogLevel.Debug);
        // As daprd: a default folder (~/.dapr/components) that does not exist means no components; a named one must exist.
        var resources = checks.LoadResources(options.ResourcesPathIsDefault
            ? options.ResourcesPaths.Where(p => Directory.Exists(p) || File.Exists(p)).ToList()
            : options.ResourcesPaths);
        checks.CheckConfiguration(options.ConfigPath);
        await using var shared = new SharedResources();
        await using var host = await checks.StartSidecarAsync(() => SidecarHost.StartAsync(options, resources, shared, new NameRegistry(), ct: ct));
        await host.WaitForShutdownAsync(ct);
        return 0;
    }
}
