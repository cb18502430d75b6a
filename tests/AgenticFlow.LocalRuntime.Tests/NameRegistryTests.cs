using System.Diagnostics;
using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Tests;

public sealed class NameRegistryTests
{
    [Fact]
    public async Task AnEntryWhoseProcessIdWasReused_IsNotTakenForALiveSidecar()
    {
        var folder = Directory.CreateTempSubdirectory("agenticflow-names-").FullName;
        var names = new NameRegistry(folder);
        using var other = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            var startedAt = new DateTimeOffset(other.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds();
            names.Register(new SidecarAddress("live", "1", 1, 2, other.Id, "k", ProcessStartedAt: startedAt));
            // The same process id, but a process that started an hour earlier: the sidecar that wrote it is gone.
            names.Register(new SidecarAddress("reused", "1", 3, 4, other.Id, "k", ProcessStartedAt: startedAt - 3_600_000));

            Assert.NotNull(names.Resolve("live"));
            Assert.Null(names.Resolve("reused"));

            other.Kill();
            await other.WaitForExitAsync();
            names.Refresh();
            Assert.Null(names.Resolve("live"));
        }
        finally
        {
            if (!other.HasExited)
            {
                other.Kill();
            }
            Directory.Delete(folder, recursive: true);
        }
    }
}
