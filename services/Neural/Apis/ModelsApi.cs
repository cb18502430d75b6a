using System.Security.Cryptography;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using AgenticFlow.Neural.Storage;
using AgenticFlow.Neural.TaskRouting;
using AgenticFlow.Neural.Workflows;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using static AgenticFlow.Neural.Apis.NeuralProblems;

namespace AgenticFlow.Neural.Apis;

/// <summary><c>/api/v1/models</c>: training jobs, the registry, deploys and inference.</summary>
public static class ModelsApi
{
    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder app, NeuralOptions options)
    {
        var api = app.MapGroup("/api/v1/models").WithTags("Models").RequirePlatformRole();
        var requestLimit = new RequestSizeLimitAttribute(options.MaxRequestBytes);
        api.MapPost("/train", Train).WithName("TrainModel").WithMetadata(requestLimit);
        api.MapGet("/jobs", ListJobs).WithName("ListTrainingJobs");
        api.MapGet("/jobs/{jobId}", GetJob).WithName("GetTrainingJob");
        api.MapPost("/jobs/{jobId}/cancel", CancelJob).WithName("CancelTrainingJob");
        api.MapPost("/inference", Infer).WithName("Infer").WithMetadata(requestLimit);
        api.MapGet("/", List).WithName("ListModels");
        api.MapGet("/{id}", Get).WithName("GetModel");
        api.MapGet("/{id}/version", Versions).WithName("GetModelVersions");
        api.MapGet("/{id}/versions", Versions).WithName("ListModelVersions");
        api.MapPost("/{id}/versions", Upload).WithName("UploadOnnxVersion")
            .Accepts<byte[]>("application/octet-stream").WithMetadata(new RequestSizeLimitAttribute(options.MaxUploadBytes));
        api.MapPut("/{id}/deploy", Deploy).WithName("DeployModel");
        api.MapPost("/task-router/retrain", RetrainTaskRouter).WithName("RetrainTaskRouter");
        return api;
    }

    private static bool MayManage(HttpContext http) =>
        CallerIdentity.From(http.Request) is var caller && (!caller.FromEdge || caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator]));

    private static bool MayInfer(HttpContext http) =>
        CallerIdentity.From(http.Request) is var caller && (!caller.FromEdge || caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent]));

    public static async Task<IResult> Train(TrainRequest request, HttpContext http, TrainingJobs training, CancellationToken ct)
    {
        if (!MayManage(http))
        {
            return Forbidden("Only operators and admins train models.");
        }
        var (result, job, errors) = await training.StartAsync(request, ct);
        return result switch
        {
            JobStart.Invalid => Invalid(errors),
            JobStart.TaskConflict => Conflict(TaskMismatch, "Task differs from the model's", string.Join("; ", errors.Values.SelectMany(v => v))),
            _ => TypedResults.Accepted($"/api/v1/models/jobs/{job!.Id}", new TrainAccepted(job.Id, job.ModelId, job.Status, $"/api/v1/models/jobs/{job.Id}")),
        };
    }

    public static async Task<IResult> ListJobs(JobStore jobs, CancellationToken ct, string? modelId = null) =>
        TypedResults.Ok((await jobs.ListAsync(modelId, ct)).Select(JobView.From).ToList());

    public static async Task<IResult> GetJob(string jobId, JobStore jobs, CancellationToken ct) =>
        await jobs.GetAsync(jobId, ct) is { } job ? TypedResults.Ok(JobView.From(job)) : Missing($"No training job {jobId}.");

    public static async Task<IResult> CancelJob(string jobId, HttpContext http, TrainingJobs training, CancellationToken ct)
    {
        if (!MayManage(http))
        {
            return Forbidden("Only operators and admins cancel training jobs.");
        }
        var job = await training.CancelAsync(jobId, ct);
        return job switch
        {
            null => Missing($"No training job {jobId}."),
            { Status: JobStatus.Canceled } => TypedResults.Ok(JobView.From(job)),
            _ => Conflict(JobFinished, "Job already finished", $"Job {jobId} is {job.Status}."),
        };
    }

    public static async Task<IResult> List(ModelRegistry registry, CancellationToken ct) =>
        TypedResults.Ok((await registry.ListAsync(ct)).Select(m => ModelView.From(m, "")).ToList());

    public static async Task<IResult> Get(string id, HttpContext http, ModelRegistry registry, CancellationToken ct)
    {
        var (model, etag) = await registry.GetAsync(id, ct);
        if (model is null)
        {
            return Missing($"No model {id}.");
        }
        http.Response.Headers.ETag = Quote(etag);
        return TypedResults.Ok(ModelView.From(model, etag));
    }

    public static async Task<IResult> Versions(string id, HttpContext http, ModelRegistry registry, CancellationToken ct)
    {
        var (model, etag) = await registry.GetAsync(id, ct);
        if (model is null)
        {
            return Missing($"No model {id}.");
        }
        http.Response.Headers.ETag = Quote(etag);
        return TypedResults.Ok(new VersionsView(model.Id, TrafficView.From(model.Deployment),
            model.Versions.OrderByDescending(v => v.Version).Select(v => VersionView.From(v, model.Deployment)).ToList()));
    }

    /// <summary>Uploads an ONNX file as the next version (the body is the file). It is opened with ONNX Runtime
    /// before anything is stored, so a file that is not ONNX is refused.</summary>
    public static async Task<IResult> Upload(string id, HttpContext http, IArtifactStore artifacts, ModelRegistry registry, IOptions<NeuralOptions> options, CancellationToken ct)
    {
        if (!MayManage(http))
        {
            return Forbidden("Only operators and admins upload model versions.");
        }
        if (TrainingJobs.CheckModelId(id) is { } problem)
        {
            return Invalid(new() { ["id"] = [problem] });
        }
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, ct);
        var bytes = buffer.ToArray();
        if (bytes.Length == 0)
        {
            return Invalid(new() { ["body"] = ["the body is the .onnx file"] });
        }
        List<TensorSignature> inputs, outputs;
        try
        {
            (inputs, outputs) = OnnxModel.Describe(bytes);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
        {
            return Invalid(new() { ["body"] = ["not an ONNX model ONNX Runtime can load: " + ex.Message] });
        }
        if (inputs.Count == 0 || inputs.Any(i => !OnnxModel.Supported(i)))
        {
            return Invalid(new() { ["body"] = ["the model needs tensor inputs of float, double, int64, int32, bool or string"] });
        }
        var (existing, _) = await registry.GetAsync(id, ct);
        if (existing is not null && existing.Task != ModelTasks.Onnx)
        {
            return Conflict(TaskMismatch, "Task differs from the model's", $"Model {id} is a {existing.Task} model; ONNX versions go to onnx models.");
        }
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var uploadId = "upload-" + sha[..16] + "-" + Guid.NewGuid().ToString("N")[..8];
        var key = $"models/{id}/versions/{uploadId}.onnx";
        await artifacts.PutAsync(key, bytes, ct);
        var number = await registry.AddVersionAsync(id, ModelTasks.Onnx, uploadId, model => new ModelVersion
        {
            Format = ArtifactFormats.Onnx,
            ArtifactKey = key,
            ArtifactSha256 = sha,
            ArtifactBytes = bytes.LongLength,
            Inputs = inputs,
            Outputs = outputs,
            Lineage = new Lineage(uploadId, "upload", "sha256:" + sha, null, model.Deployment.Active, null),
        }, ct);
        var (saved, _) = await registry.GetAsync(id, ct);
        return TypedResults.Created($"/api/v1/models/{id}/versions", VersionView.From(saved!.Find(number)!, saved.Deployment));
    }

    /// <summary>Switches the active version, starts a canary, promotes it or rolls back, under the model's ETag;
    /// every replica hears of it through an event.</summary>
    public static async Task<IResult> Deploy(string id, DeployRequest request, HttpContext http, ModelRegistry registry, DeploymentCache deployments,
        InferenceService inference, DaprClient dapr, IOptions<NeuralOptions> options, ILogger<DeployRequest> logger, CancellationToken ct)
    {
        if (!MayManage(http))
        {
            return Forbidden("Only operators and admins deploy models.");
        }
        var rollback = request.Rollback == true;
        var promote = request.Promote == true;
        if ((rollback ? 1 : 0) + (promote ? 1 : 0) + (request.Version is null ? 0 : 1) != 1)
        {
            return Invalid(new() { ["deploy"] = ["exactly one of version, promote: true or rollback: true"] });
        }
        if (request.CanaryPercent is { } percent && (percent is < 1 or > 100 || request.Version is null))
        {
            return Invalid(new() { ["canaryPercent"] = ["canaryPercent (1-100) goes with a version"] });
        }
        var ifMatch = http.Request.Headers.IfMatch.ToString().Trim().Trim('"');
        if (ifMatch.Length == 0)
        {
            return TypedResults.Problem(title: "If-Match required", detail: $"Read the model first (GET /api/v1/models/{id}) and send its ETag as If-Match.",
                statusCode: StatusCodes.Status428PreconditionRequired, type: ProblemBase + "precondition-required");
        }
        // The version to switch to must load here before the switch is stored: a missing or corrupt artifact would
        // otherwise become the active version and fail every inference.
        if (request.Version is { } wanted && (await registry.GetAsync(id, ct)).Model?.Find(wanted) is { } target)
        {
            try
            {
                await inference.LoadAsync(id, target, ct);
            }
            catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or Minio.Exceptions.MinioException or HttpRequestException)
            {
                return TypedResults.Problem(title: "Version cannot be served", detail: $"Version {wanted} of model {id} could not be loaded ({ex.Message}); nothing was changed.",
                    statusCode: StatusCodes.Status503ServiceUnavailable, type: ProblemBase + "version-unloadable");
            }
        }
        var (outcome, model, etag, problem) = await registry.DeployAsync(id, ifMatch, new DeployChange(request.Version, request.CanaryPercent, rollback, promote), ct);
        switch (outcome)
        {
            case DeployOutcome.NotFound:
                return Missing($"No model {id}.");
            case DeployOutcome.Stale:
                return TypedResults.Problem(title: "Changed meanwhile", detail: $"Model {id} changed since that ETag; read it again and retry with its ETag.",
                    statusCode: StatusCodes.Status412PreconditionFailed, type: ProblemBase + "etag-mismatch");
            case DeployOutcome.Invalid:
                return Conflict(DeployRefused, "Deploy refused", problem!);
        }
        // This replica serves the change at once, warm; the others load it when the event reaches them.
        deployments.Set(model!);
        await dapr.TryPublishEventAsync(options.Value.PubSub, NeuralEvents.ModelDeployed, new ModelDeployedEvent(id, model!.Deployment.Revision), logger, ct);
        await inference.WarmAsync(model!, ct);
        http.Response.Headers.ETag = Quote(etag);
        return TypedResults.Ok(ModelView.From(model, etag));
    }

    public static async Task<IResult> Infer(InferenceRequest request, HttpContext http, InferenceService inference, IOptions<NeuralOptions> options, CancellationToken ct)
    {
        if (!MayInfer(http))
        {
            return Forbidden("Inference is for agents, operators and admins.");
        }
        var errors = new Dictionary<string, string[]>();
        if (request.ModelId is not { Length: > 0 } modelId || TrainingJobs.ModelIdPattern().IsMatch(modelId) is false)
        {
            errors["modelId"] = ["modelId names a model"];
        }
        if (request.Inputs is not { Count: > 0 } || request.Inputs.Count > options.Value.MaxInferenceRows)
        {
            errors["inputs"] = [$"1 to {options.Value.MaxInferenceRows} rows"];
        }
        if (request.Version is < 1)
        {
            errors["version"] = ["versions start at 1"];
        }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var outcome = await inference.InferAsync(request.ModelId!, request.Version, request.Inputs!, ct);
        return outcome.Status switch
        {
            InferenceStatus.UnknownModel => Missing($"No model {request.ModelId}."),
            InferenceStatus.UnknownVersion => Missing($"Model {request.ModelId} has no version {request.Version}."),
            InferenceStatus.NotDeployed => Conflict(NotDeployed, "No version deployed", $"Model {request.ModelId} has no active version: deploy one, or name a version."),
            InferenceStatus.BadInput => Invalid(outcome.Errors!),
            _ => TypedResults.Ok(new InferenceResponse(request.ModelId!, outcome.Version!.Value, outcome.Predictions!)),
        };
    }

    /// <summary>Retrains the task-router now (the schedule does it periodically); its version is deployed when the job
    /// ends if it scores no worse than the active one.</summary>
    public static async Task<IResult> RetrainTaskRouter(HttpContext http, TaskRouterTraining router, IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        if (!MayManage(http))
        {
            return Forbidden("Only operators and admins retrain the task-router.");
        }
        RetrainStart result;
        string? jobId, detail;
        try
        {
            (result, jobId, detail) = await router.StartAsync(ct);
        }
        catch (HttpRequestException ex)
        {
            return TypedResults.Problem(title: "Coordination unavailable", detail: "Completed tasks could not be read from coordination: " + ex.Message,
                statusCode: StatusCodes.Status503ServiceUnavailable, type: ProblemBase + "coordination-unavailable");
        }
        if (result != RetrainStart.Started)
        {
            return Conflict(TooFewTasks, "Not enough completed tasks", detail!);
        }
        _ = Task.Run(() => router.DeployWhenDoneAsync(jobId!, lifetime.ApplicationStopping), CancellationToken.None);
        return TypedResults.Accepted($"/api/v1/models/jobs/{jobId}", new TrainAccepted(jobId!, AgenticFlow.ServiceDefaults.TaskRouterContract.ModelId, JobStatus.Queued, $"/api/v1/models/jobs/{jobId}"));
    }

    private static string Quote(string etag) => $"\"{etag}\"";
}
