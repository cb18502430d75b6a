using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>One app process of a run (one replica of one app), its output streamed with the app-id as prefix.</summary>
internal sealed partial class SupervisedApp : IDisposable
{
    private readonly string _appId;
    private readonly ProcessStartInfo _start;
    private readonly TimeProvider _time;
    private Process? _process;
    private long _startedAt;

    private SupervisedApp(string appId, ProcessStartInfo start, TimeProvider time)
    {
        _appId = appId;
        _start = start;
        _time = time;
    }

    /// <summary>Starts the app's first process; throws <see cref="Win32Exception"/> when its command cannot be run.</summary>
    public static SupervisedApp Start(string appId, ProcessStartInfo start, TimeProvider time)
    {
        var app = new SupervisedApp(appId, start, time);
        app.Launch();
        return app;
    }

    /// <summary>Waits until <paramref name="stopping"/> is cancelled (false) or the app exits by itself (true, after saying so).</summary>
    public async Task<bool> SuperviseAsync(CancellationToken stopping)
    {
        try
        {
            await _process!.WaitForExitAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        RunConsole.Write(_appId, "RUN", $"app exited with code {_process.ExitCode}; stopping the run");
        return true;
    }

    /// <summary>Stops the app gracefully: SIGTERM, up to 10 s to exit, then a kill of its whole process tree.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
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

    public void Dispose() => _process?.Dispose();

    private void Launch()
    {
        var previous = _process;
        _process = null;
        previous?.Dispose();
        _startedAt = _time.GetTimestamp();
        var process = Process.Start(_start) ?? throw new Win32Exception($"{_start.FileName} did not start a process");
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private void Forward(string? line)
    {
        if (line is not null)
        {
            RunConsole.Write(_appId, "APP", line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

