using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Minio;

namespace AgenticFlow.IntegrationTests.Neural;

/// <summary>The whole platform with the neural service's artifacts in the S3-compatible server tools/test.sh starts
/// (s3rver, AGENTICFLOW_TEST_S3), in a bucket of this platform's own.</summary>
public sealed class NeuralPlatform : IAsyncLifetime
{
    public const string Operator = "dev-operator-key", Agent = "dev-agent-a1-key", Viewer = "dev-viewer-key";

    public PlatformHarness Platform { get; private set; } = null!;
    public string S3Endpoint { get; } = Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_S3") is { Length: > 0 } s3
        ? s3 : throw new InvalidOperationException("AGENTICFLOW_TEST_S3 is not set: run the tests with 'bash tools/test.sh', which starts s3rver.");
    public string Bucket { get; } = "models-" + Guid.NewGuid().ToString("N")[..12];

    public async Task InitializeAsync()
    {
        // Tests put their own CSVs into the bucket, maybe before the service first touches it (it creates it on first use).
        await S3().MakeBucketAsync(new Minio.DataModel.Args.MakeBucketArgs().WithBucket(Bucket));
        Platform = await PlatformHarness.StartAsync(new Dictionary<string, Dictionary<string, string>>
        {
            ["gateway"] = new() { ["Gateway__RequestsPerSecond"] = "100000", ["Gateway__Burst"] = "100000" },
            ["neural"] = new()
            {
                ["Neural__Artifacts__Kind"] = "s3",
                ["Neural__Artifacts__Endpoint"] = S3Endpoint,
                ["Neural__Artifacts__Bucket"] = Bucket,
                ["Neural__MaxRequestBytes"] = (2 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
                // The task-router is retrained on request here (POST .../task-router/retrain), not by the timer.
                ["Neural__TaskRouter__RetrainSeconds"] = "0",
                ["Neural__TaskRouter__MinTasks"] = "10",
                // Long enough that only the model-deployed event can tell a replica of another's deploy in these tests.
                ["Neural__DeploymentCacheSeconds"] = "3600",
            },
            // The test plays external agents and does not beat their hearts: nobody turns unhealthy here.
            ["agents"] = new() { ["Agents__HeartbeatTimeoutSeconds"] = "86400" },
        });
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();

    public Minio.IMinioClient S3()
    {
        var colon = S3Endpoint.LastIndexOf(':');
        return new Minio.MinioClient().WithEndpoint(S3Endpoint[..colon], int.Parse(S3Endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .WithCredentials("S3RVER", "S3RVER").WithSSL(false).Build();
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string key, object? json = null, string? ifMatch = null)
    {
        var request = Platform.Request(method, path, key, json);
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        return await Platform.Client.SendAsync(request);
    }

    /// <summary>Starts a training job through the gateway and waits for it to finish; answers the job.</summary>
    public async Task<JsonElement> TrainAsync(object body, int seconds = 180)
    {
        var response = await SendAsync(HttpMethod.Post, "/api/v1/models/train", Operator, body);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString()!;
        return await WaitJobAsync(jobId, seconds);
    }

    public async Task<JsonElement> WaitJobAsync(string jobId, int seconds = 180)
    {
        JsonElement job = default;
        await Eventually.True(async () =>
        {
            job = await JobAsync(jobId);
            return job.GetProperty("status").GetString() is "completed" or "failed" or "canceled";
        }, $"training job {jobId} to finish", seconds);
        Assert.True(job.GetProperty("status").GetString() == "completed", job.ToString());
        return job;
    }

    public async Task<JsonElement> JobAsync(string jobId)
    {
        var response = await SendAsync(HttpMethod.Get, $"/api/v1/models/jobs/{jobId}", Viewer);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<string> ETagAsync(string modelId)
    {
        var response = await SendAsync(HttpMethod.Get, $"/api/v1/models/{modelId}", Viewer);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.ETag!.Tag;
    }

    public async Task<HttpResponseMessage> DeployAsync(string modelId, object body) =>
        await SendAsync(HttpMethod.Put, $"/api/v1/models/{modelId}/deploy", Operator, body, await ETagAsync(modelId));

    public async Task<JsonElement> InferAsync(string modelId, object[] inputs, int? version = null, string key = Agent)
    {
        var response = await SendAsync(HttpMethod.Post, "/api/v1/models/inference", key, new { modelId, version, inputs });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Rows of a binary task: approved when income exceeds debt (flipped when <paramref name="flip"/>, so a
    /// second version answers differently from the first).</summary>
    public static object[] LoanRows(int count, bool flip = false, int seed = 5)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double income = Math.Round(random.NextDouble() * 10, 3), debt = Math.Round(random.NextDouble() * 10, 3);
            return (object)new { income, debt, approved = (income > debt) ^ flip };
        }).ToArray();
    }
}
