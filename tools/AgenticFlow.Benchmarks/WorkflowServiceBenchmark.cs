using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Workflow;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// The workflows service running a definition of three <c>invoke</c> steps (a trivial method of another app), from
/// <c>POST /api/v1/workflows/{id}/execute</c> to the run's completion (seen by a Dapr workflow client on the
/// service's sidecar), with 1 and 100 runs in flight; beside the same three calls made in-process (sidecar → sidecar
/// → app, as the activities make them), alone and with a Redis checkpoint after each (what a durable engine must at
/// least write). Figures only; no pass/fail.
/// </summary>
public static class WorkflowServiceBenchmark
{
    private const int InFlight = 100;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("workflows");
        var duration = TimeSpan.FromSeconds(seconds);
        var repo = BenchComponents.RepositoryRoot();
        var folder = BenchComponents.Write(redisAddress, pubsub: true, null);
        var resources = ResourceLoader.Load([folder]);
        var names = new NameRegistry(Path.Combine(folder, "names"));
        await using var shared = new SharedResources();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error));
        var sidecars = new List<SidecarHost>();
        Process? service = null;
        try
        {
            // The trivial method the steps invoke.
            var targetPort = LoopbackPorts.PickFree();
            var targetBuilder = WebApplication.CreateSlimBuilder();
            targetBuilder.Logging.ClearProviders();
            targetBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, targetPort));
            await using var target = targetBuilder.Build();
            target.MapPost("/ping", () => Results.Ok(new { ok = true }));
            await target.StartAsync();
            var targetOptions = new SidecarOptions { AppId = "bench-target", AppPort = targetPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            sidecars.Add(await SidecarHost.StartAsync(targetOptions, resources, shared, names, loggers));

            var port = LoopbackPorts.PickFree();
            var options = new SidecarOptions { AppId = "workflows", AppPort = port, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            service = MessagingBenchmark.Start(repo, "Workflows", "AgenticFlow.Workflows", port, options, new() { ["Workflows__InvokeTargets__0"] = "bench-target/ping" });
            sidecars.Add(await SidecarHost.StartAsync(options, resources, shared, names, loggers));
            await sidecars[^1].Sidecar.WhenReady;
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await BenchComponents.WaitUntilServing("the workflows service", () => BenchComponents.Answers(http, "/api/v1/workflows?limit=1"));

            var step = (string id) => new { id, kind = "invoke", app = "bench-target", method = "ping", data = new { n = 1 } };
            using var created = await http.PostAsJsonAsync("/api/v1/workflows", new { name = "bench", steps = new[] { step("a"), step("b"), step("c") } });
            created.EnsureSuccessStatusCode();
            var definitionId = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;

            // A client only (no worker: the service's worker runs the runs), on the service's sidecar.
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}",
                ["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}",
            }).Build();
            var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
            services.AddDaprWorkflow(_ => { });
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<DaprWorkflowClient>();

            async Task Run()
            {
                using var response = await http.PostAsJsonAsync($"/api/v1/workflows/{definitionId}/execute", new { input = new { } });
                response.EnsureSuccessStatusCode();
                var runId = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("runId").GetString()!;
                var state = await client.WaitForWorkflowCompletionAsync(runId);
                if (state.RuntimeStatus != WorkflowRuntimeStatus.Completed)
                {
                    throw new InvalidOperationException($"run {runId} ended {state.RuntimeStatus}");
                }
            }

            // The baseline: the same three calls through the same sidecars, without the engine.
            using var invoker = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 });
            var invokeUrl = $"http://127.0.0.1:{options.HttpPort}/v1.0/invoke/bench-target/method/ping";
            async Task Call()
            {
                using var response = await invoker.PostAsJsonAsync(invokeUrl, new { n = 1 });
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            }
            async Task InProcess()
            {
                await Call();
                await Call();
                await Call();
            }
            var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
            var db = redis.GetDatabase();
            var n = 0;
            async Task InProcessDurable()
            {
                var key = "bench-wfs||" + Interlocked.Increment(ref n);
                await db.HashSetAsync(key, "status", "running");
                foreach (var name in new[] { "a", "b", "c" })
                {
                    await Call();
                    await db.HashSetAsync(key, name, "{\"ok\":true}");
                }
                await db.HashSetAsync(key, "status", "completed");
                await db.KeyDeleteAsync(key);
            }

            for (var i = 0; i < 20; i++)
            {
                await Run();
                await InProcessDurable();
            }
            Console.WriteLine($"AgenticFlow workflows service benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, 3 invoke steps, {BenchComponents.ProfileName} at {redisAddress}");
            Console.WriteLine("runs: POST /execute to the service → RunWorkflow interprets the definition → 3 invoke activities → completion seen by a workflow client");
            Console.WriteLine();
            Measure.Header();
            var one = await Measure.Saturate(1, duration, Run);
            Measure.Print("3-step run, 1 in flight", "workflows service", one);
            var oneBare = await Measure.Saturate(1, duration, InProcess);
            Measure.Print("3-step run, 1 in flight", "in-process", oneBare);
            var oneDurable = await Measure.Saturate(1, duration, InProcessDurable);
            Measure.Print("3-step run, 1 in flight", "in-process+redis", oneDurable);
            var many = await Measure.Saturate(InFlight, duration, Run);
            Measure.Print($"3-step run, {InFlight} in flight", "workflows service", many);
            var manyBare = await Measure.Saturate(InFlight, duration, InProcess);
            Measure.Print($"3-step run, {InFlight} in flight", "in-process", manyBare);
            var manyDurable = await Measure.Saturate(InFlight, duration, InProcessDurable);
            Measure.Print($"3-step run, {InFlight} in flight", "in-process+redis", manyDurable);
            Console.WriteLine();
            Console.WriteLine(Measure.Ratio("3-step run, 1 in flight (service / in-process)", one, oneBare, "p50 < 25 ms"));
            Console.WriteLine(Measure.Ratio("3-step run, 1 in flight (service / in-process+redis)", one, oneDurable, "p50 < 25 ms"));
            Console.WriteLine(Measure.Ratio($"3-step run, {InFlight} in flight (service / in-process+redis)", many, manyDurable, ">= 300 runs/s"));
        }
        finally
        {
            service?.Kill(entireProcessTree: true);
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
            Directory.Delete(folder, recursive: true);
        }
    }
}
