using System.Net;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Dapr.Workflow;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// A three-activity workflow through the local runtime (DaprWorkflowClient start → worker → three activities →
/// completion seen by the client), one at a time and with 100 in flight, beside the same three steps run
/// in-process: plain awaited calls, and the same calls with a durable checkpoint in Redis after each one (what
/// any durable engine must at least write). Figures only; no pass/fail.
/// </summary>
public static class WorkflowsBenchmark
{
    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("actors");
        var duration = TimeSpan.FromSeconds(seconds);
        const int InFlight = 100;
        var folder = BenchComponents.Write(redisAddress, pubsub: false, null);

        await using var shared = new SharedResources();
        var options = new SidecarOptions { AppId = "bench-workflows", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
        await using var sidecar = await SidecarHost.StartAsync(options, ResourceLoader.Load([folder]), shared, new NameRegistry(Path.Combine(folder, "names")),
            LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error)));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}";
        builder.Configuration["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}";
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddDaprWorkflow(o =>
        {
            o.RegisterActivity<int, int>("Step", (_, n) => Task.FromResult(Step(n)));
            o.RegisterWorkflow<int, int>("ThreeSteps", async (ctx, n) =>
            {
                var a = await ctx.CallActivityAsync<int>("Step", n);
                var b = await ctx.CallActivityAsync<int>("Step", a);
                return await ctx.CallActivityAsync<int>("Step", b);
            });
        });
        await using var app = builder.Build();
        await app.StartAsync();
        var client = app.Services.GetRequiredService<DaprWorkflowClient>();

        var redis = await ConnectionMultiplexer.ConnectAsync(redisAddress);
        var db = redis.GetDatabase();
        var n = 0;

        async Task RunWorkflow()
        {
            var id = "bench-" + Interlocked.Increment(ref n);
            await client.ScheduleNewWorkflowAsync("ThreeSteps", id, 1);
            var state = await client.WaitForWorkflowCompletionAsync(id);
            if (state?.RuntimeStatus != WorkflowRuntimeStatus.Completed || state.ReadOutputAs<int>() != 4)
            {
                throw new InvalidOperationException($"workflow {id} ended {state?.RuntimeStatus}");
            }
        }

        async Task InProcess()
        {
            var a = await Task.Run(() => Step(1));
            var b = await Task.Run(() => Step(a));
            _ = await Task.Run(() => Step(b));
        }

        async Task InProcessDurable()
        {
            var key = "bench-wf||" + Interlocked.Increment(ref n);
            await db.HashSetAsync(key, "input", 1);
            var a = await Task.Run(() => Step(1));
            await db.HashSetAsync(key, "a", a);
            var b = await Task.Run(() => Step(a));
            await db.HashSetAsync(key, "b", b);
            var c = await Task.Run(() => Step(b));
            await db.HashSetAsync(key, [new HashEntry("c", c), new HashEntry("status", "completed")]);
            await db.KeyDeleteAsync(key);
        }

        Console.WriteLine($"AgenticFlow workflow benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, 3-activity workflow, history in Redis at {redisAddress}");
        Console.WriteLine();
        Measure.Header();
        // Warm up: the worker's stream is open and the code paths are jitted.
        for (var i = 0; i < 20; i++)
        {
            await RunWorkflow();
        }

        var one = await Measure.Saturate(1, duration, RunWorkflow);
        Measure.Print("3-activity workflow, 1 in flight", "runtime", one);
        Measure.Print("3-activity workflow, 1 in flight", "in-process", await Measure.Saturate(1, duration, InProcess));
        var oneBaseline = await Measure.Saturate(1, duration, InProcessDurable);
        Measure.Print("3-activity workflow, 1 in flight", "in-process+redis", oneBaseline);
        var many = await Measure.Saturate(InFlight, duration, RunWorkflow);
        Measure.Print($"3-activity workflow, {InFlight} in flight", "runtime", many);
        Measure.Print($"3-activity workflow, {InFlight} in flight", "in-process", await Measure.Saturate(InFlight, duration, InProcess));
        var manyBaseline = await Measure.Saturate(InFlight, duration, InProcessDurable);
        Measure.Print($"3-activity workflow, {InFlight} in flight", "in-process+redis", manyBaseline);
        Console.WriteLine();
        Console.WriteLine(Measure.Ratio("3-activity workflow, 1 in flight (runtime / in-process+redis)", one, oneBaseline, "p50 < 5 ms"));
        Console.WriteLine(Measure.Ratio($"3-activity workflow, {InFlight} in flight", many, manyBaseline, ">= 1,500 workflows/s"));
    }

    private static int Step(int n) => n + 1;
}
