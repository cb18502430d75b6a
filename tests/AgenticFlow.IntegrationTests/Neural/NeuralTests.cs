using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Minio.DataModel.Args;
using static AgenticFlow.IntegrationTests.Neural.NeuralPlatform;

namespace AgenticFlow.IntegrationTests.Neural;

/// <summary>The neural service end to end through the gateway: training jobs (Dapr workflows on the local runtime),
/// artifacts in s3rver, deploys, canaries and inference.</summary>
public sealed class NeuralTests(NeuralPlatform n) : IClassFixture<NeuralPlatform>
{
    private static double Metric(JsonElement version, string name) => version.GetProperty("metrics").GetProperty(name).GetDouble();

    private async Task<JsonElement> VersionsAsync(string modelId)
    {
        var response = await n.SendAsync(HttpMethod.Get, $"/api/v1/models/{modelId}/version", Viewer);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task EachTaskKind_Trains_AndItsVersionCarriesMetricsAndLineage()
    {
        var random = new Random(11);
        var clusters = Enumerable.Range(0, 150).Select(i => (object)new
        {
            x = (i % 3) * 10 + random.NextDouble(),
            y = (i % 3 == 2 ? 9 : 0) + random.NextDouble(),
            colour = new[] { "red", "green", "blue" }[i % 3],
        }).ToArray();
        var houses = Enumerable.Range(0, 150).Select(_ =>
        {
            var size = random.NextDouble() * 100;
            return (object)new { size, price = 3 * size + 5 + random.NextDouble() };
        }).ToArray();
        string[] billing = ["refund my payment", "charged twice on my card", "the invoice is wrong", "my bill has an extra fee"];
        string[] bugs = ["the app crashes on start", "error when saving a file", "the page freezes", "button does nothing"];
        var tickets = Enumerable.Range(0, 48).Select(i => (object)new
        {
            text = (i % 2 == 0 ? billing : bugs)[i / 2 % 4] + (i % 3 == 0 ? " today" : " please"),
            topic = i % 2 == 0 ? "billing" : "bug",
        }).ToArray();

        var jobs = await Task.WhenAll(
            n.TrainAsync(new { modelId = "it-binary", task = "binary", data = LoanRows(150), label = "approved" }),
            n.TrainAsync(new { modelId = "it-multiclass", task = "multiclass", data = clusters, label = "colour", validation = new { folds = 3 } }),
            n.TrainAsync(new { modelId = "it-regression", task = "regression", trainer = "fasttree", data = houses, label = "price", hyperparameters = new { trees = 50 } }),
            n.TrainAsync(new { modelId = "it-text", task = "text-classification", data = tickets, label = "topic" }));
        Assert.All(jobs, j => Assert.Equal(1, j.GetProperty("version").GetInt32()));

        var binary = (await VersionsAsync("it-binary")).GetProperty("versions")[0];
        Assert.InRange(Metric(binary, "accuracy"), 0.85, 1);
        Assert.InRange(Metric(binary, "auc"), 0.9, 1);
        Assert.Equal("inline", binary.GetProperty("lineage").GetProperty("dataSource").GetString());
        Assert.StartsWith("sha256:", binary.GetProperty("lineage").GetProperty("dataFingerprint").GetString());
        Assert.Equal(150, binary.GetProperty("lineage").GetProperty("dataRows").GetInt32());
        Assert.Equal("staging", binary.GetProperty("stage").GetString());
        Assert.InRange(Metric((await VersionsAsync("it-multiclass")).GetProperty("versions")[0], "accuracy"), 0.9, 1);
        var regression = (await VersionsAsync("it-regression")).GetProperty("versions")[0];
        Assert.InRange(Metric(regression, "r2"), 0.9, 1);
        Assert.Equal(50, regression.GetProperty("parameters").GetProperty("trees").GetDouble());
        Assert.InRange(Metric((await VersionsAsync("it-text")).GetProperty("versions")[0], "accuracy"), 0.7, 1);

        // Named versions answer without a deploy; the text model reads text.
        var text = await n.InferAsync("it-text", [new { text = "I was charged twice, refund please" }], version: 1);
        Assert.Equal("billing", text.GetProperty("predictions")[0].GetProperty("label").GetString());
        var listed = await (await n.SendAsync(HttpMethod.Get, "/api/v1/models", Viewer)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Subset(listed.EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToHashSet(), new HashSet<string?> { "it-binary", "it-multiclass", "it-regression", "it-text" });
    }

    [Fact]
    public async Task TrainedArtifact_InS3_IsByteIdenticalToWhatTheRegistryRecorded_AndRoundTripsThroughMinio()
    {
        await n.TrainAsync(new { modelId = "it-artifact", task = "binary", data = LoanRows(60), label = "approved" });
        var version = (await VersionsAsync("it-artifact")).GetProperty("versions")[0];
        var s3 = n.S3();
        using var stored = new MemoryStream();
        await s3.GetObjectAsync(new GetObjectArgs().WithBucket(n.Bucket).WithObject(version.GetProperty("artifactKey").GetString())
            .WithCallbackStream(async (s, ct) => await s.CopyToAsync(stored, ct)));
        Assert.Equal(version.GetProperty("artifactSha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(stored.ToArray())));
        Assert.Equal(version.GetProperty("artifactBytes").GetInt64(), stored.Length);

        // The service's own store against the same server: a large (multipart) object comes back byte for byte.
        var store = new AgenticFlow.Neural.Storage.S3ArtifactStore(_ => Task.FromResult(s3), n.Bucket);
        var bytes = new byte[12 * 1024 * 1024 + 17];
        new Random(2).NextBytes(bytes);
        await store.PutAsync("tests/large.bin", bytes, CancellationToken.None);
        Assert.Equal(bytes, await store.GetAsync("tests/large.bin", CancellationToken.None));
        await store.DeleteAsync("tests/large.bin", CancellationToken.None);
        Assert.Null(await store.GetAsync("tests/large.bin", CancellationToken.None));
    }

    [Fact]
    public async Task Deploy_Canary_Promote_Rollback_SplitTrafficWithinTolerance()
    {
        const string model = "it-canary";
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(80), label = "approved" });
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(80, flip: true), label = "approved" });
        var notDeployed = await n.SendAsync(HttpMethod.Post, "/api/v1/models/inference", Agent, new { modelId = model, inputs = new[] { new { income = 1, debt = 2 } } });
        Assert.Equal(HttpStatusCode.Conflict, notDeployed.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { version = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { version = 2, canaryPercent = 20 })).StatusCode);
        var traffic = (await VersionsAsync(model)).GetProperty("traffic");
        Assert.Equal((1, 2, 80, 20), (traffic.GetProperty("active").GetInt32(), traffic.GetProperty("canary").GetInt32(), traffic.GetProperty("activePercent").GetInt32(), traffic.GetProperty("canaryPercent").GetInt32()));

        async Task<int> CanaryShare(int calls)
        {
            var versions = await Task.WhenAll(Enumerable.Range(0, calls).Select(async i =>
            {
                // Eight at a time keeps the run short without flooding a loaded machine.
                await Gate.WaitAsync();
                try
                {
                    return (await n.InferAsync(model, [new { income = i % 10, debt = 5 }])).GetProperty("version").GetInt32();
                }
                finally
                {
                    Gate.Release();
                }
            }));
            return versions.Count(v => v == 2);
        }
        // 1,000 calls at 20%: mean 200, standard deviation ~12.6; 150..250 is four deviations either side.
        Assert.InRange(await CanaryShare(1000), 150, 250);

        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { promote = true })).StatusCode);
        Assert.Equal(200, await CanaryShare(200));
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { rollback = true })).StatusCode);
        Assert.Equal(0, await CanaryShare(200));
        var versions = (await VersionsAsync(model)).GetProperty("versions");
        Assert.Equal("archived", versions.EnumerateArray().Single(v => v.GetProperty("version").GetInt32() == 2).GetProperty("stage").GetString());
        Assert.Equal("production", versions.EnumerateArray().Single(v => v.GetProperty("version").GetInt32() == 1).GetProperty("stage").GetString());
    }

    private static readonly SemaphoreSlim Gate = new(8);

    [Fact]
    public async Task Deploy_WithAStaleETag_Is412_AndWithoutOne_Is428_AndChangesNothing()
    {
        const string model = "it-etag";
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(40), label = "approved" });
        var before = await n.ETagAsync(model);
        Assert.Equal(HttpStatusCode.OK, (await n.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/deploy", Operator, new { version = 1 }, before)).StatusCode);

        var stale = await n.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/deploy", Operator, new { rollback = true }, before);
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        Assert.EndsWith("etag-mismatch", (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        var missing = await n.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/deploy", Operator, new { version = 1 });
        Assert.Equal(HttpStatusCode.PreconditionRequired, missing.StatusCode);
        var forbidden = await n.SendAsync(HttpMethod.Put, $"/api/v1/models/{model}/deploy", Agent, new { version = 1 }, await n.ETagAsync(model));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var traffic = (await VersionsAsync(model)).GetProperty("traffic");
        Assert.Equal(1, traffic.GetProperty("active").GetInt32());
        Assert.Equal(1, traffic.GetProperty("revision").GetInt64());
    }

    [Fact]
    public async Task InferencesDuringADeploy_AreEachAnsweredWholeByOneVersion()
    {
        const string model = "it-switch";
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(80), label = "approved" });
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(80, flip: true), label = "approved" });
        object[] rows = [new { income = 9, debt = 1 }, new { income = 1, debt = 9 }, new { income = 8, debt = 2 }];
        var expected = new Dictionary<int, string>();
        foreach (var v in new[] { 1, 2 })
        {
            var answer = await n.InferAsync(model, rows, version: v);
            expected[v] = string.Join(",", answer.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString()));
        }
        Assert.NotEqual(expected[1], expected[2]);
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { version = 1 })).StatusCode);

        var calls = Enumerable.Range(0, 300).Select(async _ =>
        {
            await Gate.WaitAsync();
            try
            {
                return await n.InferAsync(model, rows);
            }
            finally
            {
                Gate.Release();
            }
        }).ToList();
        var deploy = n.DeployAsync(model, new { version = 2 });
        var answers = await Task.WhenAll(calls);
        Assert.Equal(HttpStatusCode.OK, (await deploy).StatusCode);
        foreach (var answer in answers)
        {
            var version = answer.GetProperty("version").GetInt32();
            Assert.Equal(expected[version], string.Join(",", answer.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString())));
        }
        // After the switch, every call is answered by the new version.
        Assert.Equal(2, (await n.InferAsync(model, rows)).GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task TrainingJob_SurvivesAKill9OfTheServiceMidTraining_AndRegistersOnce()
    {
        // A CSV a user put into the bucket, large enough that training takes a while.
        var random = new Random(9);
        var csv = new StringBuilder("f0,f1,f2,f3,f4,f5,f6,f7,label\n");
        for (var i = 0; i < 40_000; i++)
        {
            var f = Enumerable.Range(0, 8).Select(_ => random.NextDouble()).ToArray();
            csv.Append(string.Join(',', f.Select(v => v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))))
                .Append(',').Append(f[0] + f[1] * f[2] > 0.7 ? "true" : "false").Append('\n');
        }
        var bytes = Encoding.UTF8.GetBytes(csv.ToString());
        using (var stream = new MemoryStream(bytes))
        {
            await n.S3().PutObjectAsync(new PutObjectArgs().WithBucket(n.Bucket).WithObject("datasets/big.csv").WithStreamData(stream).WithObjectSize(bytes.Length));
        }
        var response = await n.SendAsync(HttpMethod.Post, "/api/v1/models/train", Operator, new
        {
            modelId = "it-crash", task = "binary", trainer = "fasttree", data = new { artifact = "datasets/big.csv" }, label = "label",
            hyperparameters = new { trees = 400, leaves = 64 },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString()!;
        await Eventually.True(async () => (await n.JobAsync(jobId)).GetProperty("step").GetString() == "train", "the job to start training", 120);

        await n.Platform.KillServiceAsync("neural");
        await n.Platform.RestartServiceAsync("neural");

        var job = await n.WaitJobAsync(jobId, 600);
        Assert.True(job.GetProperty("trainAttempts").GetInt32() >= 2, job.ToString());
        var versions = (await VersionsAsync("it-crash")).GetProperty("versions");
        var version = Assert.Single(versions.EnumerateArray());
        Assert.Equal("artifact:datasets/big.csv", version.GetProperty("lineage").GetProperty("dataSource").GetString());
        Assert.InRange(Metric(version, "accuracy"), 0.8, 1);
    }

    [Fact]
    public async Task ADeployOfAVersionWhoseArtifactIsGone_IsRefused_AndTheActiveVersionStays()
    {
        const string model = "it-gone";
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(60), label = "approved" });
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(60, flip: true), label = "approved" });
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { version = 1 })).StatusCode);
        var second = (await VersionsAsync(model)).GetProperty("versions").EnumerateArray().Single(v => v.GetProperty("version").GetInt32() == 2);
        await n.S3().RemoveObjectAsync(new RemoveObjectArgs().WithBucket(n.Bucket).WithObject(second.GetProperty("artifactKey").GetString()));

        using var refused = await n.DeployAsync(model, new { version = 2 });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("version-unloadable", await refused.Content.ReadAsStringAsync());
        object[] row = [new { income = 9, debt = 1 }];
        Assert.Equal(1, (await n.InferAsync(model, row)).GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task ADeployStoredByAnotherReplica_ReachesThisOneThroughItsEvent()
    {
        const string model = "it-event";
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(60), label = "approved" });
        await n.TrainAsync(new { modelId = model, task = "binary", data = LoanRows(60, flip: true), label = "approved" });
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync(model, new { version = 1 })).StatusCode);
        object[] row = [new { income = 9, debt = 1 }];
        Assert.Equal(1, (await n.InferAsync(model, row)).GetProperty("version").GetInt32());

        // Another replica switches to version 2: its write lands in the store, not in this replica's cache...
        var dapr = n.Platform.Sidecars["neural"].Client;
        var key = "neural-model:" + model;
        var record = (await dapr.GetStateAsync<System.Text.Json.Nodes.JsonObject>("statestore", key))!;
        var deployment = record["deployment"]!.AsObject();
        deployment["history"]!.AsArray().Add(1);
        deployment["active"] = 2;
        var revision = deployment["revision"]!.GetValue<long>() + 1;
        deployment["revision"] = revision;
        await dapr.SaveStateAsync("statestore", key, record);
        Assert.Equal(1, (await n.InferAsync(model, row)).GetProperty("version").GetInt32());

        // ...and its event is what this replica acts on.
        await dapr.PublishEventAsync("pubsub", "model-deployed", new { modelId = model, revision });
        await Eventually.True(async () => (await n.InferAsync(model, row)).GetProperty("version").GetInt32() == 2, "the event to switch this replica to version 2", 30);
    }

    [Fact]
    public async Task CanceledJob_EndsCanceled_AndRegistersNoVersion()
    {
        var random = new Random(4);
        var csv = new StringBuilder("a,b,c,label\n");
        for (var i = 0; i < 30_000; i++)
        {
            double a = random.NextDouble(), b = random.NextDouble(), c = random.NextDouble();
            csv.Append(System.FormattableString.Invariant($"{a:0.####},{b:0.####},{c:0.####},{(a * b > c ? "true" : "false")}\n"));
        }
        var bytes = Encoding.UTF8.GetBytes(csv.ToString());
        using (var stream = new MemoryStream(bytes))
        {
            await n.S3().PutObjectAsync(new PutObjectArgs().WithBucket(n.Bucket).WithObject("datasets/cancel.csv").WithStreamData(stream).WithObjectSize(bytes.Length));
        }
        var response = await n.SendAsync(HttpMethod.Post, "/api/v1/models/train", Operator, new
        {
            modelId = "it-cancel", task = "binary", trainer = "fasttree", data = new { artifact = "datasets/cancel.csv" }, label = "label",
            hyperparameters = new { trees = 400, leaves = 64 },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString()!;
        Assert.Equal(HttpStatusCode.Forbidden, (await n.SendAsync(HttpMethod.Post, $"/api/v1/models/jobs/{jobId}/cancel", Agent)).StatusCode);

        var canceled = await n.SendAsync(HttpMethod.Post, $"/api/v1/models/jobs/{jobId}/cancel", Operator);
        Assert.True(canceled.StatusCode == HttpStatusCode.OK, await canceled.Content.ReadAsStringAsync());
        Assert.Equal("canceled", (await canceled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        // Canceling again changes nothing (200, still canceled); canceling a job that completed is a conflict.
        var again = await n.SendAsync(HttpMethod.Post, $"/api/v1/models/jobs/{jobId}/cancel", Operator);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("canceled", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var listed = await (await n.SendAsync(HttpMethod.Get, "/api/v1/models/jobs?modelId=it-cancel", Viewer)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("canceled", Assert.Single(listed.EnumerateArray()).GetProperty("status").GetString());
        // The workflow is terminated: the training step that was running registers nothing, now or later.
        var after = await n.TrainAsync(new { modelId = "it-after-cancel", task = "binary", data = LoanRows(40), label = "approved" });
        Assert.Equal(HttpStatusCode.Conflict, (await n.SendAsync(HttpMethod.Post, $"/api/v1/models/jobs/{after.GetProperty("id").GetString()}/cancel", Operator)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await n.SendAsync(HttpMethod.Get, "/api/v1/models/it-cancel", Viewer)).StatusCode);
        Assert.Equal("canceled", (await n.JobAsync(jobId)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task OnnxUpload_IsServed_AndAFileThatIsNotOnnxIsRefused()
    {
        var onnx = OnnxSample.Create(out var expect);
        using var upload = new ByteArrayContent(onnx);
        upload.Headers.ContentType = new("application/octet-stream");
        var request = n.Platform.Request(HttpMethod.Post, "/api/v1/models/it-onnx/versions", Operator);
        request.Content = upload;
        var created = await n.Platform.Client.SendAsync(request);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var version = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("onnx", version.GetProperty("format").GetString());
        Assert.Equal("Features", version.GetProperty("inputs")[0].GetProperty("name").GetString());

        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync("it-onnx", new { version = 1 })).StatusCode);
        var answer = await n.InferAsync("it-onnx", [new[] { 0.3, 0.6, 0.9 }]);
        var score = answer.GetProperty("predictions")[0].GetProperty("outputs").EnumerateObject().First(o => o.Name.StartsWith("Score", StringComparison.Ordinal)).Value;
        Assert.Equal(expect(0.3f, 0.6f, 0.9f), score.ValueKind == JsonValueKind.Array ? score[0].GetDouble() : score.GetDouble(), 3);

        var junk = n.Platform.Request(HttpMethod.Post, "/api/v1/models/it-onnx-junk/versions", Operator);
        junk.Content = new ByteArrayContent(Encoding.UTF8.GetBytes("definitely not a protobuf"));
        junk.Content.Headers.ContentType = new("application/octet-stream");
        Assert.Equal(HttpStatusCode.BadRequest, (await n.Platform.Client.SendAsync(junk)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await n.SendAsync(HttpMethod.Get, "/api/v1/models/it-onnx-junk", Viewer)).StatusCode);
    }

    [Fact]
    public async Task BadInput_Is4xx_AndStoresNothing()
    {
        async Task<(int Models, int Jobs)> Counts()
        {
            var models = await (await n.SendAsync(HttpMethod.Get, "/api/v1/models", Viewer)).Content.ReadFromJsonAsync<JsonElement>();
            var jobs = await (await n.SendAsync(HttpMethod.Get, "/api/v1/models/jobs", Viewer)).Content.ReadFromJsonAsync<JsonElement>();
            return (models.GetArrayLength(), jobs.GetArrayLength());
        }
        await n.TrainAsync(new { modelId = "it-bad", task = "binary", data = LoanRows(40), label = "approved" });
        Assert.Equal(HttpStatusCode.OK, (await n.DeployAsync("it-bad", new { version = 1 })).StatusCode);
        var before = await Counts();

        async Task Expect(HttpStatusCode status, HttpMethod method, string path, object body)
        {
            var response = await n.SendAsync(method, path, Operator, body);
            Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        await Expect(HttpStatusCode.NotFound, HttpMethod.Post, "/api/v1/models/inference", new { modelId = "no-such-model", inputs = new[] { new { a = 1 } } });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/inference", new { modelId = "it-bad", inputs = new[] { new[] { 1, 2, 3 } } });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/inference", new { modelId = "it-bad", inputs = new[] { new { income = "rich", debt = 1 } } });
        await Expect(HttpStatusCode.NotFound, HttpMethod.Post, "/api/v1/models/inference", new { modelId = "it-bad", version = 9, inputs = new[] { new[] { 1, 2 } } });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/train", new { modelId = "it-bad-csv", task = "binary", data = new { csv = "income,debt,approved\n1,2\n\"3,4,true\n" }, label = "approved" });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/train", new { modelId = "it-bad-label", task = "binary", data = LoanRows(20), label = "nope" });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/train", new { modelId = "it-bad-task", task = "clustering", data = LoanRows(20), label = "approved" });
        await Expect(HttpStatusCode.BadRequest, HttpMethod.Post, "/api/v1/models/train", new { modelId = "it-bad-artifact", task = "binary", data = new { artifact = "datasets/none.csv" }, label = "approved" });
        await Expect(HttpStatusCode.Conflict, HttpMethod.Post, "/api/v1/models/train", new { modelId = "it-bad", task = "regression", data = LoanRows(20), label = "income" });
        // Over the gateway's body limit (1 MiB) and over the service's own (2 MiB here, sent past the gateway).
        var huge = new { modelId = "it-huge", task = "binary", data = new { csv = "a,approved\n" + string.Concat(Enumerable.Repeat("1,true\n", 400_000)) }, label = "approved" };
        await Expect(HttpStatusCode.RequestEntityTooLarge, HttpMethod.Post, "/api/v1/models/train", huge);
        using var direct = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{n.Platform.Services["neural"].Port}") };
        var directRequest = new HttpRequestMessage(HttpMethod.Post, "/api/v1/models/train") { Content = JsonContent.Create(huge) };
        directRequest.Headers.Add("dapr-api-token", n.Platform.AppTokens["neural"]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await direct.SendAsync(directRequest)).StatusCode);

        Assert.Equal(before, await Counts());
    }
}
