using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>
/// <c>run -f dapr.yaml</c>: a sidecar per app (per replica), then the app's command with the variables
/// <c>dapr run</c> gives (DAPR_HTTP_PORT, DAPR_GRPC_PORT, APP_ID, APP_PORT) plus fresh API tokens both
/// ways; app output is streamed with the app-id as prefix; an app that crashes is restarted
/// (<see cref="SupervisedApp"/>); Ctrl+C stops the apps, then the sidecars.
/// </summary>
public static class MultiAppRun
{
    /// <summary>One sidecar, and the app process beside it when the app has a command.</summary>
    private sealed record Instance(RunApp App, SidecarOptions Options, AppStartupChecks Checks);

    public static async Task<int> RunAsync(RunArguments arguments, CancellationToken ct)
    {
        var runFile = RunFile.Find(arguments.File);
        var apps = RunFile.Load(runFile);
        // Relative paths in components (SQLite files, secrets files) resolve against the run file's folder.
        Directory.SetCurrentDirectory(Path.GetDirectoryName(runFile)!);
        var settings = SettingNames.InRunFile(Path.GetFileName(runFile));
        var instances = Plan(apps, arguments.LogLevel, settings);
        // Everything is checked before anything starts, so most mistakes leave nothing running to stop.
        var resourceSets = Check(instances);

        await using var shared = new SharedResources();
        var names = new NameRegistry();
        var sidecars = new List<SidecarHost>();
        var supervised = new List<(string AppId, SupervisedApp Process)>();
        var supervision = new List<Task<bool>>();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            foreach (var (app, options, checks) in instances)
            {
                sidecars.Add(await checks.StartSidecarAsync(() => SidecarHost.StartAsync(options, resourceSets[app.AppId], shared, names, ct: ct)));
                RunConsole.Write(app.AppId, "DAPR", $"sidecar listening: HTTP {options.HttpPort}, gRPC {options.GrpcPort}" + (options.AppPort is { } ap ? $", app port {ap}" : ""));
                if (app.Command.Count > 0)
                {
                    supervised.Add((app.AppId, StartApp(app, options, checks)));
                }
            }
            RunConsole.Write("run", "RUN", $"{sidecars.Count} sidecar(s) and {supervised.Count} app(s) running. Press Ctrl+C to stop.");
            supervision.AddRange(supervised.Select(a => a.Process.SuperviseAsync(stopping.Token)));
            // Until Ctrl+C, or an app that finished its work (exit code 0); crashed apps are restarted meanwhile.
            await Task.WhenAny(supervision.Append(Task.Delay(Timeout.Infinite, ct)));
            return supervised.Any(a => a.Process.FailedToStart) ? 1 : 0;
        }
        finally
        {
            // Every step on its own: one that fails must not leave the apps or sidecars after it running.
            await stopping.CancelAsync();
            await Quietly("supervision", () => Task.WhenAll(supervision));
            foreach (var (appId, process) in supervised)
            {
                await Quietly(appId, async () =>
                {
                    await process.StopAsync();
                    process.Dispose();
                    RunConsole.Write(appId, "RUN", "app stopped");
                });
            }
            foreach (var sidecar in sidecars)
            {
                await Quietly("sidecar", async () => await sidecar.DisposeAsync());
            }
        }
    }

    private static async Task Quietly(string what, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RunConsole.Write(what, "RUN", $"while stopping: {ex.Message}");
        }
    }

    private static List<Instance> Plan(IReadOnlyList<RunApp> apps, string? logLevel, SettingNames settings)
    {
        // Named ports first, so a port picked for an app that names none is never one another app names.
        foreach (var app in apps)
        {
            for (var replica = 0; replica < Math.Max(1, app.Replicas); replica++)
            {
                foreach (var port in new[] { app.AppPort, app.HttpPort, app.GrpcPort }.OfType<int>())
                {
                    LoopbackPorts.Reserve(port + replica);
                }
            }
        }
        var instances = new List<Instance>();
        foreach (var app in apps)
        {
            var level = logLevel ?? app.LogLevel;
            var checks = new AppStartupChecks(app.AppId, settings, debug: SidecarHost.ParseLevel(level) == Microsoft.Extensions.Logging.LogLevel.Debug);
            for (var replica = 0; replica < Math.Max(1, app.Replicas); replica++)
            {
                var appPort = app.AppPort is { } p ? p + replica : LoopbackPorts.PickFree();
                instances.Add(new Instance(app, new SidecarOptions
                {
                    AppId = app.AppId,
                    AppPort = app.Command.Count > 0 || app.AppPort is not null ? appPort : null,
                    HttpPort = app.HttpPort is { } h ? h + replica : LoopbackPorts.PickFree(),
                    GrpcPort = app.GrpcPort is { } g ? g + replica : LoopbackPorts.PickFree(),
                    ResourcesPaths = app.ResourcesPaths,
                    ConfigPath = app.ConfigPath,
                    LogLevel = level,
                    DaprApiToken = app.Env.GetValueOrDefault("DAPR_API_TOKEN") ?? Token(),
                    AppApiToken = app.Env.GetValueOrDefault("APP_API_TOKEN") ?? Token(),
                    InstanceId = replica.ToString(CultureInfo.InvariantCulture),
                }, checks));
            }
        }
        return instances;
    }

    /// <summary>Every app's components, Configuration, folder and ports, before anything starts; the components by app-id.</summary>
    private static Dictionary<string, ResourceSet> Check(List<Instance> instances)
    {
        var resourceSets = new Dictionary<string, ResourceSet>(StringComparer.Ordinal);
        foreach (var (app, _, checks) in instances.DistinctBy(i => i.App.AppId))
        {
            if (app.Command.Count > 0 && !Directory.Exists(app.AppDirPath))
            {
                throw checks.Failure($"app folder {app.AppDirPath} does not exist", $"create it or change {checks.Settings.AppDir}");
            }
            resourceSets[app.AppId] = checks.LoadResources(app.ResourcesPaths);
            checks.CheckConfiguration(app.ConfigPath);
        }
        var owners = new Dictionary<int, string>();
        foreach (var (app, options, checks) in instances)
        {
            var ports = new List<(int Port, string What, Action Check)>
            {
                (options.HttpPort, "dapr HTTP port", () => checks.CheckPortFree(SidecarListener.Http, options.HttpPort)),
                (options.GrpcPort, "dapr gRPC port", () => checks.CheckPortFree(SidecarListener.Grpc, options.GrpcPort)),
            };
            if (app.Command.Count > 0 && options.AppPort is { } appPort)
            {
                ports.Add((appPort, "app port", () => checks.CheckAppPortFree(appPort)));
            }
            foreach (var (port, what, check) in ports)
            {
                if (!owners.TryAdd(port, $"the {what} of app '{app.AppId}'"))
                {
                    throw checks.Failure($"{what} {port} is also {owners[port]}", "give every sidecar and app its own ports in the run file");
                }
                check();
            }
        }
        return resourceSets;
    }

    private static SupervisedApp StartApp(RunApp app, SidecarOptions options, AppStartupChecks checks)
    {
        var info = new ProcessStartInfo(app.Command[0])
        {
            WorkingDirectory = app.AppDirPath,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in app.Command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (k, v) in app.Env)
        {
            info.Environment[k] = v;
        }
        info.Environment["APP_ID"] = app.AppId;
        info.Environment["APP_PORT"] = options.AppPort.ToString();
        info.Environment["DAPR_HTTP_PORT"] = options.HttpPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["DAPR_GRPC_PORT"] = options.GrpcPort.ToString(CultureInfo.InvariantCulture);
        // Endpoints name 127.0.0.1, where the sidecar listens, so clients do not try ::1 first.
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}";
        info.Environment["DAPR_API_TOKEN"] = options.DaprApiToken;
        info.Environment["APP_API_TOKEN"] = options.AppApiToken;
        if (!app.Env.ContainsKey("ASPNETCORE_URLS"))
        {
            info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{options.AppPort}";
        }
        try
        {
            return SupervisedApp.Start(app.AppId, info, TimeProvider.System);
        }
        catch (Win32Exception ex)
        {
            throw checks.Failure($"could not start {app.Command[0]}: {ex.Message}", $"check {checks.Settings.Command}", ex);
        }
    }

    private static string Token() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
}
