using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using AgenticFlow.LocalRuntime.Timing;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>
/// One app process of a run (one replica of one app), its output streamed with the app-id as prefix. When it dies
/// while the run goes on (a crash, kill -9) it is started again with the very same environment (tokens, ports),
/// after a pause that doubles from 1 s up to 30 s and starts over once the app has stayed up for a minute. An app
/// that ends by itself with exit code 0 has finished its work: that ends the run, as it always has.
/// </summary>
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

    /// <summary>
    /// Keeps the app running until <paramref name="stopping"/> is cancelled (false) or the app exits with code 0 by
    /// itself (true, after saying so).
    /// </summary>
    public async Task<bool> SuperviseAsync(CancellationToken stopping)
    {
        var pauses = new RestartPauses();
        for (var launch = 1; ; launch++)
        {
            string ended;
            if (_process is { } process)
            {
                try
                {
                    await process.WaitForExitAsync(stopping);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
                if (stopping.IsCancellationRequested)
                {
                    // Ctrl+C reaches the app's process group too, so it may exit a moment before the run is told to stop.
                    return false;
                }
                if (process.ExitCode == 0)
                {
                    RunConsole.Write(_appId, "RUN", "app exited with code 0; stopping the run");
                    return true;
                }
                ended = $"exited with code {process.ExitCode}";
                if (launch == 1 && process.ExitCode is > 0 and < 128 && _time.GetElapsedTime(_startedAt) < FirstStartGrace)
                {
                    // It gave up by itself right away (a missing build, a bad argument; a signal's exit code is 128+N):
                    // restarting would only repeat that.
                    RunConsole.Write(_appId, "RUN", $"app {ended} within {FirstStartGrace.TotalSeconds:0} s of its first start; not restarting it: fix it and run again");
                    FailedToStart = true;
                    return true;
                }
            }
            else
            {
                ended = "could not be started";
            }
            var pause = pauses.Next(ranFor: _time.GetElapsedTime(_startedAt));
            RunConsole.Write(_appId, "APP", $"{ended}; restarting in {pause.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (restart {pauses.Restarts})");
            try
            {
                await Task.Delay(pause, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            try
            {
                Launch();
            }
            catch (Win32Exception ex)
            {
                RunConsole.Write(_appId, "APP", $"could not start {_start.FileName}: {ex.Message}");
            }
        }
    }

    /// <summary>An app whose first process exits by itself (not by a signal) this soon is not restarted: the run ends, failed.</summary>
    public static readonly TimeSpan FirstStartGrace = TimeSpan.FromSeconds(10);

    /// <summary>True when the app died at its first start, which ends the run with a failure.</summary>
    public bool FailedToStart { get; private set; }

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

/// <summary>
/// The pauses before the restarts of one app: 1 s, 2 s, 4 s … at most 30 s, from 1 s again once the app had stayed
/// up for a minute.
/// </summary>
internal sealed class RestartPauses
{
    private static readonly RetryPolicy Policy = new("exponential", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), -1) { Growth = 2 };

    public static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    private int _attempt;

    /// <summary>How many restarts this app has had, counting the one <see cref="Next"/> just planned.</summary>
    public int Restarts { get; private set; }

    /// <summary>The pause before the next restart of an app whose last process ran for <paramref name="ranFor"/>.</summary>
    public TimeSpan Next(TimeSpan ranFor)
    {
        if (ranFor >= StableAfter)
        {
            _attempt = 0;
        }
        Restarts++;
        return Policy.DelayFor(_attempt++);
    }
}
