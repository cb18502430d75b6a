using System.Collections.Concurrent;
using System.Diagnostics;

namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>
/// The runtime's command line (<c>agenticflow-runtime run -f ...</c>, <c>sidecar ...</c>) as its own OS process in a
/// folder of the test's own, with every line it writes, so a test sees what a person at the terminal would.
/// </summary>
public sealed class RuntimeCli : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _names;

    private RuntimeCli(Process process, string names)
    {
        _process = process;
        _names = names;
    }

    public ConcurrentQueue<string> Stdout { get; } = new();
    public ConcurrentQueue<string> Stderr { get; } = new();

    public static RuntimeCli Start(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "agenticflow-runtime.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // Its own name registry, so its sidecars never meet those of other tests.
        var names = Directory.CreateTempSubdirectory("agenticflow-names-").FullName;
        info.Environment["AGENTICFLOW_RESOLVER_DIR"] = names;
        var cli = new RuntimeCli(Process.Start(info)!, names);
        cli._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { cli.Stdout.Enqueue(e.Data); } };
        cli._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { cli.Stderr.Enqueue(e.Data); } };
        cli._process.BeginOutputReadLine();
        cli._process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>The exit code, once the process has exited and all its output is read; fails the test after the limit.</summary>
    public async Task<int> ExitCodeAsync(int seconds)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the runtime did not exit within {seconds}s; it wrote:\n{string.Join('\n', Stdout.Concat(Stderr))}");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as Ctrl+C or an orchestrator stops the runtime.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_names, recursive: true);
    }
}
