using System.Diagnostics;
using AgenticFlow.LocalRuntime.Cli;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary><c>run -f</c> restarts an app whose process dies while the run goes on, and only then.</summary>
public sealed class AppSupervisionTests
{
    [Fact]
    public async Task Kill9OfAnApp_RestartsItWithTheSameEnvironment_AndSaysSo_AndSigtermStopsItWithoutARestart()
    {
        using var components = new ComponentsFolder().State("in-memory");
        // Each start of the app appends its PID and the environment the run gave it.
        using var run = new ComponentsFolder().Add("dapr.yaml", $$"""
            version: 1
            apps:
              - appID: pinger
                resourcesPath: {{components.Path}}
                command: ["sh", "-c", "echo $$ $DAPR_API_TOKEN $APP_API_TOKEN $DAPR_HTTP_PORT $DAPR_GRPC_PORT $APP_PORT >> starts.txt; exec sleep 600"]
            """);
        var starts = Path.Combine(run.Path, "starts.txt");
        string[] Starts() => File.Exists(starts) ? File.ReadAllLines(starts).Where(l => l.Length > 0).ToArray() : [];

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");
        await Eventually.True(() => Starts().Length == 1, "the app to start", 30);
        var first = Starts()[0].Split(' ');

        Kill9(int.Parse(first[0]));

        await Eventually.True(() => Starts().Length == 2, "the killed app to be started again", 15);
        var second = Starts()[1].Split(' ');
        Assert.NotEqual(first[0], second[0]);
        Assert.Equal(first[1..], second[1..]);
        Assert.Contains("== APP - pinger == exited with code 137; restarting in 1 s (restart 1)", cli.Stdout);

        cli.Terminate();
        Assert.Equal(0, await cli.ExitCodeAsync(20));
        Assert.Contains("== RUN - pinger == app stopped", cli.Stdout);
        Assert.False(IsAlive(int.Parse(second[0])), "the app outlived the run");
        Assert.Equal(2, Starts().Length);
        Assert.DoesNotContain(cli.Stdout, l => l.Contains("restart 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AppThatFailsAtItsFirstStart_EndsTheRunWithAFailure_InsteadOfRestartingForever()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder().Add("dapr.yaml", $"""
            version: 1
            apps:
              - appID: broken
                resourcesPath: {components.Path}
                command: ["sh", "-c", "echo cannot find my build >&2; exit 3"]
            """);

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        Assert.Equal(1, await cli.ExitCodeAsync(20));
        Assert.Contains(cli.Stdout, l => l.Contains("app exited with code 3 within 10 s of its first start; not restarting it", StringComparison.Ordinal));
        Assert.DoesNotContain(cli.Stdout, l => l.Contains("restarting in", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AppThatExitsWithCodeZero_EndsTheRunInsteadOfBeingRestarted()
    {
        using var components = new ComponentsFolder().State("in-memory");
        using var run = new ComponentsFolder().Add("dapr.yaml", $"""
            version: 1
            apps:
              - appID: job
                resourcesPath: {components.Path}
                command: ["sh", "-c", "echo done"]
            """);

        await using var cli = RuntimeCli.Start(run.Path, "run", "-f", "dapr.yaml");

        Assert.Equal(0, await cli.ExitCodeAsync(20));
        Assert.Contains("== APP - job == done", cli.Stdout);
        Assert.Contains("== RUN - job == app exited with code 0; stopping the run", cli.Stdout);
        Assert.DoesNotContain(cli.Stdout, l => l.Contains("restarting", StringComparison.Ordinal));
    }

    [Fact]
    public void RestartPauses_DoubleFromOneSecondUpToThirty_AndStartOverAfterAMinuteUp()
    {
        var pauses = new RestartPauses();
        var quickCrashes = Enumerable.Range(0, 7).Select(_ => pauses.Next(ranFor: TimeSpan.FromSeconds(2)).TotalSeconds).ToList();
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], quickCrashes);

        Assert.Equal(TimeSpan.FromSeconds(1), pauses.Next(ranFor: TimeSpan.FromMinutes(1)));
        Assert.Equal(TimeSpan.FromSeconds(2), pauses.Next(ranFor: TimeSpan.FromSeconds(59)));
        Assert.Equal(9, pauses.Restarts);
    }

    private static void Kill9(int pid)
    {
        using var kill = Process.Start("kill", ["-9", pid.ToString()]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Running or asleep; a zombie or a vanished process is not alive.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not 'Z' and not 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
