using AgenticFlow.Neural.Inference;
using AgenticFlow.Neural.Storage;
using AgenticFlow.Neural.TaskRouting;
using AgenticFlow.Neural.Workflows;
using Dapr.Client;
using Dapr.Workflow;
using Microsoft.Extensions.Options;
using Minio;

namespace AgenticFlow.Neural;

public static class Extensions
{
    public static IHostApplicationBuilder AddNeural(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<NeuralOptions>()
            .BindConfiguration(NeuralOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Artifacts.Kind != "s3" || o.Artifacts.Endpoint is { Length: > 0 }, "Neural:Artifacts:Endpoint (host:port) is needed for s3 artifacts")
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(ArtifactStore);
        builder.Services.AddSingleton<Datasets>();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<JobStore>();
        builder.Services.AddSingleton<DeploymentCache>();
        builder.Services.AddSingleton<LoadedModels>();
        builder.Services.AddSingleton<InferenceService>();
        builder.Services.AddSingleton<TrainingJobs>();
        builder.Services.AddSingleton<CoordinationTasks>();
        builder.Services.AddSingleton<TaskRouterTraining>();
        // The task-router is retrained by a timer in the service (not a cron binding), one replica per period.
        builder.Services.AddHostedService<TaskRouterSchedule>();
        // Dapr.Workflow's source generator registers the TrainingWorkflow and its activities of this assembly.
        builder.Services.AddDaprWorkflow(_ => { });
        return builder;
    }

    /// <summary>The artifact store the options name: a folder, or a bucket whose credentials come from the secret store.</summary>
    private static IArtifactStore ArtifactStore(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<NeuralOptions>>().Value;
        var artifacts = options.Artifacts;
        if (artifacts.Kind == "folder")
        {
            return new FolderArtifactStore(artifacts.Folder);
        }
        var dapr = services.GetRequiredService<DaprClient>();
        return new S3ArtifactStore(async ct =>
        {
            var access = await dapr.GetSecretAsync(options.SecretStore, artifacts.AccessKeySecret, cancellationToken: ct);
            var secret = await dapr.GetSecretAsync(options.SecretStore, artifacts.SecretKeySecret, cancellationToken: ct);
            var (host, port) = HostPort(artifacts.Endpoint!);
            return new MinioClient().WithEndpoint(host, port)
                .WithCredentials(access[artifacts.AccessKeySecret], secret[artifacts.SecretKeySecret])
                .WithSSL(artifacts.UseSsl).Build();
        }, artifacts.Bucket);
    }

    private static (string Host, int Port) HostPort(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && int.TryParse(endpoint[(colon + 1)..], out var port) ? (endpoint[..colon], port) : (endpoint, 80);
    }
}
