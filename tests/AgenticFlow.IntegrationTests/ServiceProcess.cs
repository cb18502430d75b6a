using System.Diagnostics;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>A platform service started as its own process, the way dapr run starts it: Dapr endpoints and tokens in the environment.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private ServiceProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string Output => string.Join('\n', _output);

    /// <summary>Starts the same service again (same ports and settings), as after a crash.</summary>
    public Func<Task<ServiceProcess>> StartAgain { get; private set; } = null!;

    public static async Task<ServiceProcess> StartAsync(string assembly, int port, int sidecarHttp, int sidecarGrpc, IReadOnlyDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly + ".dll"));
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{sidecarHttp}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{sidecarGrpc}";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        // No file watcher on appsettings: each one takes an inotify instance, and the suite's parallel platforms ran
        // into the 128 a user may hold ("The configured user limit (128) on the number of inotify instances").
        info.Environment["DOTNET_hostBuilder__reloadConfigOnChange"] = "false";
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }
        var process = Process.Start(info)!;
        var service = new ServiceProcess(process, port);
        service.StartAgain = () => StartAsync(assembly, port, sidecarHttp, sidecarGrpc, env);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { service._output.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { service._output.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            await Eventually.True(async () =>
            {
                if (process.HasExited)
                {
                    Assert.Fail($"{assembly} exited at start:\n{service.Output}");
                }
                try
                {
                    return (await http.GetAsync("/healthz")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, $"{assembly} to answer /healthz", 60);
        }
        catch
        {
            // A service that never came up must not outlive the test, holding its port.
            await service.DisposeAsync();
            throw;
        }
        return service;
    }

    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
