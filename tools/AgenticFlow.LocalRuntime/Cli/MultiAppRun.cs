using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>
/// <c>run -f dapr.yaml</c>: a sidecar per app (per replica), then the app's command with the variables
/// <c>dapr run</c> gives (DAPR_HTTP_PORT, DAPR_GRPC_PORT, APP_ID, APP_PORT) plus fresh API tokens both
/// ways; app output is streamed with the app-id as prefix; Ctrl+C stops the apps, then the sidecars.
/// </summary>
public static partial class MultiAppRun
{
    public static async Task<int> RunAsync(string file, CancellationToken ct)
    {
        var apps = RunFile.Load(file);
        // Relative paths in components (SQLite files, secrets files) resolve against the run file's folder.
        Directory.SetCurrentDirectory(Path.GetDirectoryName(Path.GetFullPath(Directory.Exists(file) ? Path.Combine(file, "dapr.yaml") : file))!);
        if (apps.Count == 0)
        {
            Console.Error.WriteLine($"{file} lists no apps.");
            return 1;
        }
        // Validate every app's components before anything starts.
        var resourceSets = apps.ToDictionary(a => a.AppId, a => ResourceLoader.Load(a.ResourcesPaths));
        foreach (var set in resourceSets.Values)
        {
            ComponentRegistry.Validate(set);
        }

        await using var shared = new SharedResources();
        var names = new NameRegistry();
        var sidecars = new List<SidecarHost>();
        var processes = new List<(string AppId, Process Process)>();
        var consoleLock = new Lock();
        try
        {
            foreach (var app in apps)
            {
                for (var replica = 0; replica < Math.Max(1, app.Replicas); replica++)
                {
                    var appPort = app.AppPort is { } p ? p + replica : LoopbackPorts.PickFree();
                    var options = new SidecarOptions
                    {
                        AppId = app.AppId,
                        AppPort = app.Command.Count > 0 || app.AppPort is not null ? appPort : null,
                        HttpPort = app.HttpPort is { } h ? h + replica : LoopbackPorts.PickFree(),
                        GrpcPort = app.GrpcPort is { } g ? g + replica : LoopbackPorts.PickFree(),
                        ResourcesPaths = app.ResourcesPaths,
                        ConfigPath = app.ConfigPath,
                        LogLevel = app.LogLevel,
                        DaprApiToken = app.Env.GetValueOrDefault("DAPR_API_TOKEN") ?? Token(),
                        AppApiToken = app.Env.GetValueOrDefault("APP_API_TOKEN") ?? Token(),
                        InstanceId = replica.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    };
                    var sidecar = await SidecarHost.StartAsync(options, resourceSets[app.AppId], shared, names, ct: ct);
                    sidecars.Add(sidecar);
                    Write(consoleLock, app.AppId, "DAPR", $"sidecar listening: HTTP {options.HttpPort}, gRPC {options.GrpcPort}" + (options.AppPort is { } ap ? $", app port {ap}" : ""));
                    if (app.Command.Count > 0)
                    {
                        processes.Add((app.AppId, StartApp(app, options, consoleLock)));
                    }
                }
            }
            Write(consoleLock, "run", "RUN", $"{sidecars.Count} sidecar(s) and {processes.Count} app(s) running. Press Ctrl+C to stop.");
            var exited = processes.Count == 0 ? Task.Delay(Timeout.Infinite, ct) : Task.WhenAny(processes.Select(p => p.Process.WaitForExitAsync(ct)));
            await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, ct)).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var (appId, process) in processes.Where(p => p.Process.HasExited))
            {
                Write(consoleLock, appId, "RUN", $"app exited with code {process.ExitCode}; stopping the run");
            }
            return processes.Any(p => p.Process.HasExited && p.Process.ExitCode != 0) ? 1 : 0;
        }
        finally
        {
            foreach (var (appId, process) in processes)
            {
                await StopAsync(process);
                Write(consoleLock, appId, "RUN", "app stopped");
            }
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
        }
    }

    private static Process StartApp(RunApp app, SidecarOptions options, Lock consoleLock)
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
        info.Environment["DAPR_HTTP_PORT"] = options.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["DAPR_GRPC_PORT"] = options.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Endpoints name 127.0.0.1, where the sidecar listens, so clients do not try ::1 first.
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}";
        info.Environment["DAPR_API_TOKEN"] = options.DaprApiToken;
        info.Environment["APP_API_TOKEN"] = options.AppApiToken;
        if (!app.Env.ContainsKey("ASPNETCORE_URLS"))
        {
            info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{options.AppPort}";
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {app.Command[0]} for {app.AppId}");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Write(consoleLock, app.AppId, "APP", e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Write(consoleLock, app.AppId, "APP", e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task StopAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }
        if (!OperatingSystem.IsWindows())
        {
            _ = Kill(process.Id, 15);
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
        }
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static void Write(Lock consoleLock, string appId, string kind, string line)
    {
        lock (consoleLock)
        {
            Console.Out.WriteLine($"== {kind} - {appId} == {line}");
        }
    }

    private static string Token() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
}
