using System.Text.Json;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using AgenticFlow.Neural.Storage;

namespace AgenticFlow.Neural.Apis;

/// <summary>POST /api/v1/models/train. <c>data</c> is an array of row objects, <c>{"csv": text}</c>, or
/// <c>{"artifact": key}</c> naming a CSV in the artifact bucket.</summary>
public sealed record TrainRequest(string? ModelId, string? Task, string? Trainer, JsonElement Data, string? Label, List<string>? Features,
    ValidationRequest? Validation, Dictionary<string, double>? Hyperparameters);

/// <summary>A held-out share of rows (<c>split</c>, default 0.2) or k-fold cross-validation (<c>folds</c>).</summary>
public sealed record ValidationRequest(double? Split, int? Folds);

public sealed record TrainAccepted(string JobId, string ModelId, string Status, string Location);

public sealed record DeployRequest(int? Version, int? CanaryPercent, bool? Rollback, bool? Promote);

public sealed record InferenceRequest(string? ModelId, int? Version, List<JsonElement>? Inputs);

public sealed record InferenceResponse(string ModelId, int Version, IReadOnlyList<Prediction> Predictions);

public sealed record VersionView(int Version, string Format, string Stage, bool Active, bool Canary, string? Trainer, Dictionary<string, double> Metrics,
    Dictionary<string, double> Parameters, Lineage Lineage, ModelSchema? Schema, List<TensorSignature>? Inputs, List<TensorSignature>? Outputs,
    string ArtifactKey, string ArtifactSha256, long ArtifactBytes, DateTimeOffset CreatedAt)
{
    public static VersionView From(ModelVersion v, Deployment d) => new(v.Version, v.Format, d.StageOf(v.Version), d.Active == v.Version, d.Canary == v.Version,
        v.Trainer, v.Metrics, v.Parameters, v.Lineage, v.Schema, v.Inputs, v.Outputs, v.ArtifactKey, v.ArtifactSha256, v.ArtifactBytes, v.CreatedAt);
}

/// <summary>The traffic split: the active version's share and the canary's.</summary>
public sealed record TrafficView(int? Active, int? Canary, int ActivePercent, int CanaryPercent, long Revision, List<int> History, DateTimeOffset? ChangedAt)
{
    public static TrafficView From(Deployment d) => new(d.Active, d.Canary, d.Active is null ? 0 : 100 - d.CanaryPercent, d.CanaryPercent, d.Revision, d.History, d.ChangedAt);
}

public sealed record ModelView(string Id, string Task, DateTimeOffset CreatedAt, int Versions, int? LatestVersion, TrafficView Traffic, string ETag)
{
    public static ModelView From(ModelRecord m, string etag) =>
        new(m.Id, m.Task, m.CreatedAt, m.Versions.Count, m.Versions.Count == 0 ? null : m.Versions.Max(v => v.Version), TrafficView.From(m.Deployment), etag);
}

public sealed record VersionsView(string ModelId, TrafficView Traffic, IReadOnlyList<VersionView> Versions);

public sealed record JobView(string Id, string ModelId, string Task, string Trainer, string DataSource, string Status, string? Step, int TrainAttempts,
    int? Version, Dictionary<string, double>? Metrics, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static JobView From(TrainingJobRecord j) =>
        new(j.Id, j.ModelId, j.Task, j.Trainer, j.DataSource, j.Status, j.Step, j.TrainAttempts, j.Version, j.Metrics, j.Error, j.CreatedAt, j.UpdatedAt);
}
