using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>The app, a separate OS process, is killed with -9 while an activity runs; the workflow finishes once
/// the app is back, and activities that had completed do not run again.</summary>
public sealed class WorkflowAppKillTests
{
    [Theory, InlineData("sqlite"), InlineData("redis")]
    public async Task Kill9OfTheAppMidActivity_WorkflowFinishesWhenTheAppIsBack_WithoutRerunningCompletedActivities(string store)
    {
        using var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wfappkill"), folder.Path);
        var work = Directory.CreateTempSubdirectory("agenticflow-wfapp-").FullName;
        var runs = Path.Combine(work, "runs.txt");
        var gate = Path.Combine(work, "gate");
        File.WriteAllText(runs, "");
        int Runs(string key) => File.ReadAllLines(runs).Count(line => line == key);
        var id = "appkill-" + Guid.NewGuid().ToString("N");

        using (var first = StartApp(sidecar, runs, gate))
        {
            var started = await sidecar.Http.PostAsync($"/v1.0/workflows/dapr/ThreeRecords/start?instanceID={id}", new StringContent("\"p\"", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            await Eventually.True(() => Runs("p-2") == 1, "the second activity to start in the first app process", 60);
            first.Kill();
            await first.WaitForExitAsync();
        }
        Assert.Equal("RUNNING", await StatusAsync(sidecar, id));

        using var second = StartApp(sidecar, runs, gate);
        try
        {
            File.WriteAllText(gate, "");
            await Eventually.True(async () => await StatusAsync(sidecar, id) == "COMPLETED", "the workflow to complete in the second app process", 90);
        }
        finally
        {
            second.Kill();
        }

        using var done = JsonDocument.Parse(await sidecar.Http.GetStringAsync($"/v1.0/workflows/dapr/{id}"));
        Assert.Equal("\"p-1,p-2,p-3\"", done.RootElement.GetProperty("properties").GetProperty("dapr.workflow.output").GetString());
        Assert.Equal(1, Runs("p-1"));
        Assert.Equal(2, Runs("p-2")); // the run killed with its process, and the redelivery
        Assert.Equal(1, Runs("p-3"));
        Directory.Delete(work, recursive: true);
    }

    private static Process StartApp(TestSidecar sidecar, string runsFile, string gateFile)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AgenticFlow.WorkflowTestHost.dll"));
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{sidecar.GrpcPort}";
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{sidecar.HttpPort}";
        info.Environment["RUNS_FILE"] = runsFile;
        info.Environment["GATED_KEY"] = "p-2";
        info.Environment["GATE_FILE"] = gateFile;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<string?> StatusAsync(TestSidecar sidecar, string id)
    {
        var response = await sidecar.Http.GetAsync($"/v1.0/workflows/dapr/{id}");
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("runtimeStatus").GetString();
    }
}
