using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// The dashboard in Debian's headless Chromium, driven by tests/dashboard-js (playwright-core): it signs in with an API
/// key, shows the agent and the queue this test made through the gateway, opens this test's trace and draws its span
/// tree, and saves a screenshot (docs/dashboard.png in the README is one of these).
/// </summary>
public sealed partial class MonitoringTests
{
    [Fact]
    public async Task Dashboard_SignsIn_ShowsAgentsAndQueues_AndDrawsATrace()
    {
        var agent = $"dash-{Guid.NewGuid():N}"[..13];
        using (var registered = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Post, "/api/v1/agents", "dev-operator-key",
            new { id = agent, name = "Dashboard agent", kind = "external", capabilities = new[] { new { name = "summarise", version = "1.0", proficiency = 0.9 } }, maxConcurrentTasks = 2 })))
        {
            Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        }
        string traceId = "";
        for (var i = 0; i < 3; i++)
        {
            using var sent = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Post, "/api/v1/messages", "dev-admin-key",
                new { recipient = new { kind = "agent", id = agent }, body = new { n = i } }));
            Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
            traceId = sent.Headers.GetValues("X-Correlation-Id").Single();
        }
        // The trace is listed once the services' batches arrived.
        await Eventually.True(async () => (await Platform.Client.SendAsync(Platform.Request(HttpMethod.Get, $"/api/v1/traces/{traceId}", "dev-viewer-key"))).IsSuccessStatusCode,
            "the last message's trace to reach monitoring", 60);

        var folder = Path.Combine(PlatformHarness.Repository, "tests", "dashboard-js");
        var screenshot = Path.Combine(Path.GetTempPath(), $"agenticflow-dashboard-{Guid.NewGuid():N}.png");
        var info = new ProcessStartInfo("node", ["dashboard.js"]) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["DASHBOARD_URL"] = $"http://127.0.0.1:{Platform.Port}/";
        info.Environment["DASHBOARD_KEY"] = "dev-admin-key";
        info.Environment["EXPECT_AGENT"] = agent;
        info.Environment["EXPECT_TRACE"] = traceId;
        info.Environment["SCREENSHOT"] = screenshot;
        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await node.WaitForExitAsync(deadline.Token);
        Assert.True(node.ExitCode == 0, $"the browser script failed:\n{await errors}\n{await output}");

        var result = JsonDocument.Parse((await output).Trim().Split('\n')[^1]).RootElement;
        Assert.Contains("not known", result.GetProperty("badKeyMessage").GetString());
        Assert.Contains(agent, result.GetProperty("queueRow").GetString());
        Assert.StartsWith("live", result.GetProperty("live").GetString());
        Assert.True(result.GetProperty("spanBars").GetInt32() >= 2);
        Assert.Contains(result.GetProperty("spanLabels").EnumerateArray(), l => l.GetString()!.StartsWith("gateway:", StringComparison.Ordinal));
        Assert.Contains(result.GetProperty("spanLabels").EnumerateArray(), l => l.GetString()!.StartsWith("messaging:", StringComparison.Ordinal));
        // Services this platform does not run yet say so instead of failing.
        Assert.Contains(result.GetProperty("notDeployed").EnumerateArray(), n => n.GetString()!.Contains("workflows: not deployed"));
        Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");
        var keep = Environment.GetEnvironmentVariable("AGENTICFLOW_DASHBOARD_SCREENSHOT");
        if (!string.IsNullOrEmpty(keep))
        {
            File.Copy(screenshot, keep, overwrite: true);
        }
        File.Delete(screenshot);
    }
}
