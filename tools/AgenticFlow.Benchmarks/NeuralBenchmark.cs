using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.Neural.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

namespace AgenticFlow.Benchmarks;

/// <summary>
/// Single-row inference through the gateway and straight to the neural service at 100 and 1,000 calls/s (p50/p99),
/// and batched throughput (100 rows a call), beside the same model's in-process ML.NET PredictionEngine in the same
/// run. The model is trained by the service (a training job), deployed, then its artifact is loaded in-process for the
/// baseline. Figures only.
/// </summary>
public static class NeuralBenchmark
{
    private const int BatchRows = 100, Workers = 8, MaxConnections = 256;

    public static async Task RunAsync()
    {
        var (redisAddress, seconds) = BenchComponents.Settings("neural");
        var duration = TimeSpan.FromSeconds(seconds);
        var repo = BenchComponents.RepositoryRoot();
        var folder = BenchComponents.Write(redisAddress, pubsub: true, File.ReadAllText(Path.Combine(repo, "components/local/secrets.json")));
        var artifacts = Path.Combine(folder, "artifacts");
        var resources = ResourceLoader.Load([folder]);
        var names = new NameRegistry(Path.Combine(folder, "names"));
        await using var shared = new SharedResources();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error));
        var processes = new List<Process>();
        var sidecars = new List<SidecarHost>();
        try
        {
            int nPort = LoopbackPorts.PickFree(), gPort = LoopbackPorts.PickFree();
            var nOptions = new SidecarOptions { AppId = "neural", AppPort = nPort, HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            var gOptions = new SidecarOptions { AppId = "gateway", HttpPort = LoopbackPorts.PickFree(), GrpcPort = LoopbackPorts.PickFree(), ResourcesPaths = [folder] };
            processes.Add(MessagingBenchmark.Start(repo, "Neural", "AgenticFlow.Neural", nPort, nOptions,
                new() { ["Neural__Artifacts__Folder"] = artifacts, ["Neural__TaskRouter__RetrainSeconds"] = "0" }));
            processes.Add(MessagingBenchmark.Start(repo, "Gateway", "AgenticFlow.Gateway", gPort, gOptions, new() { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" }));
            sidecars.Add(await SidecarHost.StartAsync(nOptions, resources, shared, names, loggers));
            sidecars.Add(await SidecarHost.StartAsync(gOptions, resources, shared, names, loggers));
            await sidecars[0].Sidecar.WhenReady;
            using var gateway = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{gPort}") };
            gateway.DefaultRequestHeaders.Add("X-Api-Key", "dev-admin-key");
            using var service = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections }) { BaseAddress = new Uri($"http://127.0.0.1:{nPort}") };
            await BenchComponents.WaitUntilServing("the neural service", () => BenchComponents.Answers(gateway, "/api/v1/models"));

            // Train (a training job: a workflow through the runtime) and deploy.
            var random = new Random(1);
            var rows = Enumerable.Range(0, 1000).Select(_ =>
            {
                double income = Math.Round(random.NextDouble() * 10, 3), debt = Math.Round(random.NextDouble() * 10, 3);
                return new { income, debt, approved = income > debt };
            }).ToArray();
            var trainClock = Stopwatch.StartNew();
            var accepted = await (await gateway.PostAsJsonAsync("/api/v1/models/train", new { modelId = "bench-loans", task = "binary", data = rows, label = "approved" }))
                .EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
            var jobId = accepted.GetProperty("jobId").GetString();
            JsonElement job;
            do
            {
                await Task.Delay(100);
                job = await gateway.GetFromJsonAsync<JsonElement>($"/api/v1/models/jobs/{jobId}");
            }
            while (job.GetProperty("status").GetString() is "queued" or "running");
            var trainMs = trainClock.Elapsed.TotalMilliseconds;
            if (job.GetProperty("status").GetString() != "completed")
            {
                throw new InvalidOperationException("training failed: " + job);
            }
            using (var get = await gateway.GetAsync("/api/v1/models/bench-loans"))
            {
                var deploy = new HttpRequestMessage(HttpMethod.Put, "/api/v1/models/bench-loans/deploy") { Content = JsonContent.Create(new { version = 1 }) };
                deploy.Headers.TryAddWithoutValidation("If-Match", get.Headers.ETag!.Tag);
                (await gateway.SendAsync(deploy)).EnsureSuccessStatusCode();
            }

            // The baseline: the same artifact, loaded in this process, one PredictionEngine (not thread-safe: a lock).
            var versions = await gateway.GetFromJsonAsync<JsonElement>("/api/v1/models/bench-loans/versions");
            var version = versions.GetProperty("versions")[0];
            var schema = version.GetProperty("schema").Deserialize<ModelSchema>(JsonSerializerOptions.Web)!;
            var ml = ModelTrainer.NewContext();
            ITransformer model;
            using (var stream = File.OpenRead(Path.Combine(artifacts, version.GetProperty("artifactKey").GetString()!)))
            {
                model = ml.Model.Load(stream, out _);
            }
            var engine = ml.Model.CreatePredictionEngine<ModelInput, BinaryOutput>(model, inputSchemaDefinition: ModelInputs.Definition(schema));
            var engineLock = new Lock();
            var n = 0;
            float[] Features() { var i = Interlocked.Increment(ref n); return [i % 10, (i * 7) % 10]; }
            Func<Task> InProcess(int count) => () =>
            {
                for (var r = 0; r < count; r++)
                {
                    var input = new ModelInput { Numeric = Features() };
                    lock (engineLock)
                    {
                        engine.Predict(input);
                    }
                }
                return Task.CompletedTask;
            };
            Func<Task> Infer(HttpClient client, int count) => async () =>
            {
                var inputs = Enumerable.Range(0, count).Select(_ => Features()).ToArray();
                using var response = await client.PostAsJsonAsync("/api/v1/models/inference", new { modelId = "bench-loans", inputs });
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            };
            foreach (var op in new[] { Infer(gateway, 1), Infer(service, 1), Infer(service, BatchRows), InProcess(1) })
            {
                await Measure.WarmUp(Workers, op);
            }

            Console.WriteLine($"AgenticFlow neural benchmark: {Environment.ProcessorCount} cores, {seconds}s per scenario, {BenchComponents.ProfileName}");
            Console.WriteLine($"model: binary (2 numeric features, SDCA logistic regression), trained by a job in {trainMs:F0} ms end to end (1,000 rows)");
            Console.WriteLine("in-process baseline: the same artifact loaded in this process, one PredictionEngine behind a lock");
            Console.WriteLine();
            Measure.Header();
            var results = new Dictionary<string, (Samples Samples, double Throughput)>();
            void Row(string scenario, string path, (Samples, double) result)
            {
                results[$"{scenario}|{path}"] = result;
                Measure.Print(scenario, path, result);
            }
            foreach (var rate in new[] { 100, 1000 })
            {
                Row($"single row @ {rate}/s", "via gateway", await Measure.FixedRate(rate, duration, Infer(gateway, 1)));
                Row($"single row @ {rate}/s", "service direct", await Measure.FixedRate(rate, duration, Infer(service, 1)));
                Row($"single row @ {rate}/s", "in-process", await Measure.FixedRate(rate, duration, InProcess(1)));
            }
            Row($"{BatchRows}-row calls, saturated ({Workers})", "service direct", await Measure.Saturate(Workers, duration, Infer(service, BatchRows)));
            Row($"{BatchRows}-row calls, saturated ({Workers})", "in-process", await Measure.Saturate(Workers, duration, InProcess(BatchRows)));
            Row($"single row, saturated ({Workers})", "service direct", await Measure.Saturate(Workers, duration, Infer(service, 1)));
            Console.WriteLine();
            foreach (var rate in new[] { 100, 1000 })
            {
                var scenario = $"single row @ {rate}/s";
                var inProcess = results[$"{scenario}|in-process"].Samples;
                foreach (var path in new[] { "service direct", "via gateway" })
                {
                    var s = results[$"{scenario}|{path}"].Samples;
                    Console.WriteLine($"{scenario} {path}: p50 {s.Percentile(50):F2} ms, p99 {s.Percentile(99):F2} ms (ours: p99 < 5 ms direct at 1,000/s; seed: < 200 ms); "
                        + $"{s.Percentile(99) / inProcess.Percentile(99):F0}x the in-process p99 ({inProcess.Percentile(99) * 1000:F0} µs)");
                }
            }
            var batched = results[$"{BatchRows}-row calls, saturated ({Workers})|service direct"].Throughput * BatchRows;
            var batchedInProcess = results[$"{BatchRows}-row calls, saturated ({Workers})|in-process"].Throughput * BatchRows;
            Console.WriteLine($"batched: service direct {batched:F0} rows/s, {batched / batchedInProcess:P0} of in-process ({batchedInProcess:F0} rows/s)");
        }
        finally
        {
            foreach (var p in processes)
            {
                p.Kill(entireProcessTree: true);
            }
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
            Directory.Delete(folder, recursive: true);
        }
    }
}
