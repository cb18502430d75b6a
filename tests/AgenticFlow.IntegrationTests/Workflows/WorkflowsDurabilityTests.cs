using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.IntegrationTests.Workflows;

/// <summary>The platform with the workflows sidecar as its own process (so it can be killed), and a counting app
/// (<c>wf-counter</c>, behind a sidecar of its own) that invoke steps call: it records every request it receives.</summary>
public sealed class WorkflowsDurabilityPlatform : IAsyncLifetime
{
    public PlatformHarness Platform { get; private set; } = null!;
    public WorkflowsClient Api { get; private set; } = null!;
    public TestApp Counter { get; private set; } = null!;
    private TestSidecar _counterSidecar = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" },
            ["workflows"] = new() { ["Workflows__InvokeTargets__0"] = "wf-counter/count" },
        }, processSidecars: new HashSet<string> { "workflows" });
        Counter = await TestApp.StartAsync((app, _) => app.MapPost("/count", async () =>
        {
            // A call that takes a moment, so a kill lands while some are in flight.
            await Task.Delay(100);
            return Microsoft.AspNetCore.Http.Results.Json(new { counted = true });
        }));
        _counterSidecar = await TestSidecar.StartAsync("wf-counter", Platform.ComponentsPath, Counter.Port,
            names: new AgenticFlow.LocalRuntime.Peers.NameRegistry(Path.Combine(Platform.ComponentsPath, "names")));
        Api = new WorkflowsClient(Platform);
    }

    public async Task DisposeAsync()
    {
        await _counterSidecar.DisposeAsync();
        await Counter.DisposeAsync();
        await Platform.DisposeAsync();
    }

    /// <summary>How many times the counter received each step's call (by the Idempotency-Key naming run and step).</summary>
    public Dictionary<string, int> Calls(string runId) => Counter.Requests
        .Where(r => r.Headers.TryGetValue("Idempotency-Key", out var key) && key.StartsWith(runId + ":", StringComparison.Ordinal))
        .GroupBy(r => r.Headers["Idempotency-Key"][(runId.Length + 1)..]).ToDictionary(g => g.Key, g => g.Count());
}

/// <summary>kill -9 of the runtime (the workflows sidecar) and, separately, of the workflows service mid-run: the run
/// completes, and no step that had completed before the kill runs again.</summary>
public sealed class WorkflowsDurabilityTests(WorkflowsDurabilityPlatform fixture) : IClassFixture<WorkflowsDurabilityPlatform>
{
    private WorkflowsClient Api => fixture.Api;

    private static object Count(string id) => new { id, kind = "invoke", app = "wf-counter", method = "count", data = new { step = id } };

    private Task<string> DefineAsync(string name) => Api.DefineAsync(new
    {
        name,
        steps = new object[]
        {
            Count("first"),
            new { id = "hold", kind = "wait-for-event", @event = "go" },
            new { id = "fan", kind = "parallel", forEach = "input.items", steps = new object[] { Count("call") } },
            new { id = "pause", kind = "delay", seconds = 1 },
            Count("last"),
        },
    });

    private async Task RunThroughAsync(Func<Task> kill, string name)
    {
        var id = await DefineAsync(name);
        var runId = await Api.ExecuteAsync(id, new { items = Enumerable.Range(0, 20).ToArray() });
        await Api.WaitForStepAsync(runId, "hold", "waiting");
        Assert.Equal(1, fixture.Calls(runId)["first"]);

        await Api.JsonAsync(HttpMethod.Post, $"/api/v1/workflows/{runId}/events/go", new { approved = true }, HttpStatusCode.Accepted);
        // Kill while the fan-out's calls are in flight.
        await Eventually.True(() => fixture.Calls(runId).Keys.Any(k => k.StartsWith("fan[", StringComparison.Ordinal)), "the fan-out to start", 60);
        var before = await Api.StatusAsync(runId);
        var completedBefore = before.GetProperty("steps").EnumerateArray()
            .Where(s => s.GetProperty("kind").GetString() == "invoke" && s.GetProperty("status").GetString() == "completed")
            .Select(s => s.GetProperty("path").GetString()!).ToList();
        var countsBefore = fixture.Calls(runId);
        await kill();

        var status = await Api.WaitForEndThroughRestartsAsync(runId, 180);
        Assert.Equal("completed", status.GetProperty("status").GetString());
        var calls = fixture.Calls(runId);
        // Every step ran; steps that had completed before the kill were not called again (replay uses their results).
        Assert.Equal(22, calls.Count);
        Assert.Contains("last", calls.Keys);
        foreach (var path in completedBefore)
        {
            Assert.True(calls[path] == countsBefore[path], $"{path} completed before the kill and was called again ({countsBefore[path]} → {calls[path]})");
        }
        // A call in flight at the kill may be repeated once (at least once, as Dapr's activities are), under the same
        // Idempotency-Key; nothing else repeats.
        Assert.All(calls, c => Assert.InRange(c.Value, 1, 2));
        Assert.All(status.GetProperty("steps").EnumerateArray(), s => Assert.Equal("completed", s.GetProperty("status").GetString()));
    }

    [Fact]
    public Task KillingTheRuntimeMidRun_TheRunCompletes_AndNoCompletedStepRunsTwice() =>
        RunThroughAsync(async () =>
        {
            await fixture.Platform.KillSidecarAsync("workflows");
            await fixture.Platform.RestartSidecarAsync("workflows");
        }, "kill-runtime");

    [Fact]
    public Task KillingTheWorkflowsServiceMidRun_TheRunCompletes_AndNoCompletedStepRunsTwice() =>
        RunThroughAsync(async () =>
        {
            await fixture.Platform.KillServiceAsync("workflows");
            await fixture.Platform.RestartServiceAsync("workflows");
        }, "kill-service");
}
