using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Neural;

public sealed class NeuralOptions
{
    public const string Section = "Neural";

    [Required] public string StateStore { get; set; } = "statestore";
    [Required] public string PubSub { get; set; } = "pubsub";
    [Required] public string SecretStore { get; set; } = "secretstore";

    [Range(1, 1_000_000)] public int MaxTrainingRows { get; set; } = 200_000;
    [Range(1, 10_000)] public int MaxInferenceRows { get; set; } = 1_000;

    /// <summary>Largest JSON request (train, inference) in bytes; larger ones are refused with 413 before they are read.</summary>
    [Range(1024, 512L * 1024 * 1024)] public long MaxRequestBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Largest ONNX upload in bytes.</summary>
    [Range(1024, 1024L * 1024 * 1024)] public long MaxUploadBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>How long a replica trusts its cached deployment of a model before reading it again. Pub/sub hands a
    /// deployment event to one replica only, so this read is how the others learn of a deploy: keep it at a second.</summary>
    [Range(1, 3600)] public int DeploymentCacheSeconds { get; set; } = 1;

    [Required] public ArtifactOptions Artifacts { get; set; } = new();

    [Required] public TaskRouterOptions TaskRouter { get; set; } = new();
}

public sealed class ArtifactOptions
{
    /// <summary><c>folder</c> (the embedded default) or <c>s3</c>.</summary>
    [Required, RegularExpression("^(folder|s3)$")] public string Kind { get; set; } = "folder";
    public string Folder { get; set; } = ".data/neural-artifacts";

    /// <summary>host:port of the S3-compatible server (path-style requests).</summary>
    public string? Endpoint { get; set; }
    public bool UseSsl { get; set; }
    [Required] public string Bucket { get; set; } = "agenticflow-models";

    /// <summary>Names of the secrets (in the secret store) holding the access key and secret key.</summary>
    [Required] public string AccessKeySecret { get; set; } = "neural-s3-access-key";
    [Required] public string SecretKeySecret { get; set; } = "neural-s3-secret-key";
}

public sealed class TaskRouterOptions
{
    /// <summary>Retrain the task-router model from coordination's completed tasks on this period (0: never).</summary>
    [Range(0, 7 * 24 * 3600)] public int RetrainSeconds { get; set; } = 3600;
    [Range(2, 1_000_000)] public int MinTasks { get; set; } = 20;
}
