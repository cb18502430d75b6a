using System.Diagnostics;

namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>The runtime as its own OS process (<c>agenticflow-runtime sidecar ...</c>), so a test can kill -9 it.</summary>
public sealed class RuntimeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private RuntimeProcess(Process process, int httpPort)
    {
        _process = process;
        HttpPort = httpPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
    }

    public int HttpPort { get; }
    public HttpClient Http { get; }

    /// <summary>Starts the same sidecar again (same ports, settings and tokens), as after a crash.</summary>
    public Func<Task<RuntimeProcess>> StartAgain { get; private set; } = null!;

    public static async Task<RuntimeProcess> StartAsync(string appId, string resourcesPath, int? appPort, int httpPort, int grpcPort, string? resolverFolder = null,
        string? configPath = null, IReadOnlyDictionary<string, string>? env = null)
    {
        var runtime = Path.Combine(AppContext.BaseDirectory, "agenticflow-runtime.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { runtime, "sidecar", "--app-id", appId, "--dapr-http-port", httpPort.ToString(), "--dapr-grpc-port", grpcPort.ToString(), "--resources-path", resourcesPath, "--log-level", "warn" })
        {
            info.ArgumentList.Add(arg);
        }
        if (appPort is { } port)
        {
            info.ArgumentList.Add("--app-port");
            info.ArgumentList.Add(port.ToString());
        }
        if (configPath is not null)
        {
            info.ArgumentList.Add("--config");
            info.ArgumentList.Add(configPath);
        }
        if (resolverFolder is not null)
        {
            // Its own name registry, so placement sees only the sidecars of this test.
            info.Environment["AGENTICFLOW_RESOLVER_DIR"] = resolverFolder;
        }
        foreach (var (name, value) in env ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var runtimeProcess = new RuntimeProcess(process, httpPort);
        runtimeProcess.StartAgain = () => StartAsync(appId, resourcesPath, appPort, httpPort, grpcPort, resolverFolder, configPath, env);
        await Eventually.True(async () =>
        {
            try
            {
                return (await runtimeProcess.Http.GetAsync("/v1.0/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, "the runtime process to report healthy", 60);
        return runtimeProcess;
    }

    /// <summary>SIGKILL: no shutdown code runs, nothing is flushed or acknowledged on the way out.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an orchestrator stops a process; true when it exited within the limit.</summary>
    public async Task<bool> TerminateAsync(TimeSpan limit)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        _process.Dispose();
    }
}
