using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// What the provider gateway adds over calling a provider directly: the same chat completion sent to a fake
/// OpenAI-compatible server that answers at once, directly and through the providers service (routing, limits,
/// budget check, breaker, cost recording in Redis), at 1, 16 and 64 concurrent callers.
/// </summary>
public static class ProvidersBenchmark
{
    public static async Task RunAsync()
    {
        var redisAddress = Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_REDIS") ?? throw new InvalidOperationException("run tools/bench.sh providers");
        var seconds = double.TryParse(Environment.GetEnvironmentVariable("BENCH_SECONDS"), out var s) ? s : 5;
        var duration = TimeSpan.FromSeconds(seconds);

        var fakePort = LoopbackPorts.PickFree();
        var fakeBuilder = WebApplication.CreateSlimBuilder();
        fakeBuilder.Logging.ClearProviders();
        fakeBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, fakePort));
        var fake = fakeBuilder.Build();
        var answer = """{"id":"c","object":"chat.completion","created":1,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":2,"total_tokens":22}}""";
        fake.MapPost("/v1/chat/completions", () => Results.Text(answer, "application/json"));
        await fake.StartAsync();

        var folder = BenchComponents.Write(redisAddress, pubsub: false, """{"provider-bench-key": "sk-bench"}""");
        await using var shared = new SharedResources();
        var options = new SidecarOptions { AppId = "providers", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
        await using var sidecar = await SidecarHost.StartAsync(options, ResourceLoader.Load([folder]), shared, new NameRegistry(Path.Combine(folder, "names")),
            LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error)));
        var servicePort = LoopbackPorts.PickFree();
        var dll = Path.Combine(BenchComponents.RepositoryRoot(), "services", "Providers", "bin", "Release", "net10.0", "AgenticFlow.Providers.dll");
        var info = new ProcessStartInfo("dotnet", dll) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{servicePort}";
        info.Environment["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{options.HttpPort}";
        info.Environment["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{options.GrpcPort}";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Providers__CallerRpm"] = "0";
        info.Environment["Providers__CallerTpm"] = "0";
        info.Environment["Providers__Items__0__Id"] = "fake";
        info.Environment["Providers__Items__0__Kind"] = "openai-compatible";
        info.Environment["Providers__Items__0__Endpoint"] = $"http://127.0.0.1:{fakePort}/v1";
        info.Environment["Providers__Items__0__ApiKeySecret"] = "provider-bench-key";
        // The fake provider listens on loopback, which the providers service refuses unless told it may.
        info.Environment["Providers__AllowPrivateEndpoints"] = "true";
        info.Environment["Providers__Items__0__Models__0__Name"] = "bench";
        info.Environment["Providers__Items__0__Models__0__InputPricePer1M"] = "0.15";
        info.Environment["Providers__Items__0__Models__0__OutputPricePer1M"] = "0.6";
        using var service = Process.Start(info)!;
        service.OutputDataReceived += (_, _) => { };
        service.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine("[providers] " + e.Data); } };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            using var direct = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fakePort}") };
            using var platform = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{servicePort}") };
            var body = new { model = "bench", messages = new[] { new { role = "user", content = "Say ok." } }, max_tokens = 8 };
            await BenchComponents.WaitUntilServing("the providers service", async () =>
            {
                using var response = await platform.PostAsJsonAsync("/v1/chat/completions", body);
                return response.IsSuccessStatusCode;
            });
            async Task Call(HttpClient client) => (await client.PostAsJsonAsync("/v1/chat/completions", body)).EnsureSuccessStatusCode();
            // 300 calls of warm-up left the 1-caller scenario (the first) measuring the JIT's tier-up: its p99 was above
            // the 16-caller one's. The standard warm-up (BENCH_WARMUP_SECONDS) at the scenarios' concurrencies instead.
            await Measure.WarmUp(16, () => Call(platform));
            await Measure.WarmUp(1, () => Call(platform), TimeSpan.FromSeconds(5));
            await Measure.WarmUp(16, () => Call(direct), TimeSpan.FromSeconds(5));

            Console.WriteLine($"AgenticFlow provider gateway benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario; a fake OpenAI-compatible provider that answers at once");
            Console.WriteLine();
            Measure.Header();
            foreach (var callers in new[] { 1, 16, 64 })
            {
                var baseline = await Measure.Saturate(callers, duration, () => Call(direct));
                var through = await Measure.Saturate(callers, duration, () => Call(platform));
                Measure.Print($"chat completion, {callers} caller(s)", "provider direct", baseline);
                Measure.Print($"chat completion, {callers} caller(s)", "via providers", through);
                Console.WriteLine($"|   added by the gateway at {callers,2}: p50 {through.Samples.Percentile(50) - baseline.Samples.Percentile(50),6:F2} ms, p99 {through.Samples.Percentile(99) - baseline.Samples.Percentile(99),6:F2} ms |");
            }
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            await fake.DisposeAsync();
        }
    }
}
