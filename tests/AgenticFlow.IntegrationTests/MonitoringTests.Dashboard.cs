using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// The dashboard in Debian's headless Chromium, driven by tests/dashboard-js (playwright-core): it signs in with an API
/// key, shows the agent and the queue this test made through the gateway, the LLM usage panel with the chat completions
/// two agents made on two models (and a third caller's call made while the page is open, which appears without a
/// reload), opens this test's trace and draws its span tree, and saves a screenshot (docs/dashboard.png in the README
/// is one of these).
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

        // A workflow run, for the workflows section.
        var workflow = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Post, "/api/v1/workflows", "dev-operator-key",
            new { name = "dashboard-demo", steps = new object[] { new { id = "pause", kind = "delay", seconds = 0 } } }));
        Assert.True(workflow.IsSuccessStatusCode, await workflow.Content.ReadAsStringAsync());
        var workflowId = JsonDocument.Parse(await workflow.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        var run = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Post, $"/api/v1/workflows/{workflowId}/execute", "dev-operator-key", new { input = new { } }));
        Assert.True(run.IsSuccessStatusCode, await run.Content.ReadAsStringAsync());
        var runId = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("runId").GetString()!;

        await fixture.GenAiTrafficAsync();

        var folder = Path.Combine(PlatformHarness.Repository, "tests", "dashboard-js");
        var screenshot = Path.Combine(Path.GetTempPath(), $"agenticflow-dashboard-{Guid.NewGuid():N}.png");
        var info = new ProcessStartInfo("node", ["dashboard.js"]) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["DASHBOARD_URL"] = $"http://127.0.0.1:{Platform.Port}/";
        info.Environment["DASHBOARD_KEY"] = "dev-admin-key";
        info.Environment["EXPECT_AGENT"] = agent;
        info.Environment["EXPECT_TRACE"] = traceId;
        info.Environment["EXPECT_RUN"] = runId;
        info.Environment["SCREENSHOT"] = screenshot;
        info.Environment["EXPECT_GENAI_AGENTS"] = string.Join(",", MonitoringPlatform.GenAiCalls.Select(c => c.Agent).Distinct());
        info.Environment["EXPECT_GENAI_MODELS"] = string.Join(",", MonitoringPlatform.GenAiCalls.Select(c => c.Model).Distinct());
        info.Environment["EXPECT_GENAI_LIVE_AGENT"] = "role:operator";
        info.Environment["EXPECT_GENAI_LIVE_MODEL"] = MonitoringPlatform.ModelLive;
        using var node = Process.Start(info)!;
        var errors = node.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var output = new System.Text.StringBuilder();
        try
        {
            await DriveAsync();
        }
        finally
        {
            // A failed wait or assertion must not leave Chromium running for the next test.
            if (!node.HasExited)
            {
                node.Kill(entireProcessTree: true);
            }
        }
        async Task DriveAsync()
        {
            while (await node.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
            {
                output.AppendLine(line);
                if (line == "READY")
                {
                    // The page is open and shows the two agents: a call by another caller on a third model must appear live.
                    using var live = await Platform.Client.SendAsync(Platform.Request(HttpMethod.Post, "/v1/chat/completions", "dev-operator-key",
                        new { model = MonitoringPlatform.ModelLive, messages = new[] { new { role = "user", content = "while you watch" } } }));
                    Assert.True(live.IsSuccessStatusCode, await live.Content.ReadAsStringAsync());
                }
            }
            await node.WaitForExitAsync(deadline.Token);
        }
        Assert.True(node.ExitCode == 0, $"the browser script failed:\n{await errors}\n{output}");

        var result = JsonDocument.Parse(output.ToString().Trim().Split('\n')[^1]).RootElement;
        // The usage panel: each agent and each model with its tokens (the fake answers 1000 in, 500 out per call).
        var byAgent = result.GetProperty("genaiAgents").EnumerateArray().ToDictionary(r => r[0].GetString()!, r => (r[1].GetString(), r[2].GetString(), r[3].GetString()));
        Assert.Equal(("3000", "1500", "3"), byAgent["a1"]);
        Assert.Equal(("3000", "1500", "3"), byAgent["a2"]);
        Assert.Equal(("1000", "500", "1"), byAgent["role:operator"]);
        var byModel = result.GetProperty("genaiModels").EnumerateArray().ToDictionary(r => r[0].GetString()!, r => (r[1].GetString(), r[2].GetString(), r[3].GetString()));
        Assert.Equal(("2000", "1000", "2"), byModel[MonitoringPlatform.ModelA]);
        Assert.Equal(("4000", "2000", "4"), byModel[MonitoringPlatform.ModelB]);
        Assert.Contains(result.GetProperty("genaiModels").EnumerateArray(), r => r[0].GetString() == MonitoringPlatform.ModelB && r[5].GetString()!.EndsWith(" ms", StringComparison.Ordinal));
        Assert.Contains("not known", result.GetProperty("badKeyMessage").GetString());
        Assert.Contains(agent, result.GetProperty("queueRow").GetString());
        Assert.StartsWith("live", result.GetProperty("live").GetString());
        Assert.True(result.GetProperty("spanBars").GetInt32() >= 2);
        Assert.Contains(result.GetProperty("spanLabels").EnumerateArray(), l => l.GetString()!.StartsWith("gateway:", StringComparison.Ordinal));
        Assert.Contains(result.GetProperty("spanLabels").EnumerateArray(), l => l.GetString()!.StartsWith("messaging:", StringComparison.Ordinal));
        // Every service runs here, so no section says "not deployed"; the workflow run is listed.
        Assert.Empty(result.GetProperty("notDeployed").EnumerateArray());
        Assert.Contains("dashboard-demo", result.GetProperty("workflowRow").GetString());
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
