namespace AgenticFlow.Neural.Domain;

public static class ArtifactFormats
{
    public const string MlNet = "mlnet", Onnx = "onnx";
}

/// <summary>Where a version came from: the job and data that trained it and the version that was serving then.</summary>
public sealed record Lineage(string? JobId, string? DataSource, string? DataFingerprint, int? DataRows, int? ParentVersion, string? Validation);

/// <summary>An ONNX model's input or output: name, element type and shape (-1 for a free dimension).</summary>
public sealed record TensorSignature(string Name, string ElementType, int[] Shape);

public sealed class ModelVersion
{
    public int Version { get; set; }
    public string Format { get; set; } = ArtifactFormats.MlNet;
    public string ArtifactKey { get; set; } = "";
    public string ArtifactSha256 { get; set; } = "";
    public long ArtifactBytes { get; set; }
    public string? Trainer { get; set; }
    public ModelSchema? Schema { get; set; }
    public List<TensorSignature>? Inputs { get; set; }
    public List<TensorSignature>? Outputs { get; set; }
    public Dictionary<string, double> Metrics { get; set; } = [];
    public Dictionary<string, double> Parameters { get; set; } = [];
    public Lineage Lineage { get; set; } = new(null, null, null, null, null, null);
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Which versions serve: the active one, an optional canary with its share of traffic, and the actives
/// before (what a rollback returns to). <see cref="Revision"/> grows with every change.</summary>
public sealed class Deployment
{
    public int? Active { get; set; }
    public int? Canary { get; set; }
    public int CanaryPercent { get; set; }
    public long Revision { get; set; }
    public List<int> History { get; set; } = [];
    /// <summary>Versions that served and were rolled back from.</summary>
    public List<int> RolledBack { get; set; } = [];
    public DateTimeOffset? ChangedAt { get; set; }

    /// <summary>The version one call goes to: the canary for <see cref="CanaryPercent"/> of calls (by <paramref name="roll"/>
    /// in [0, 100)), else the active version.</summary>
    public int? Choose(double roll) => Canary is { } canary && roll < CanaryPercent ? canary : Active;

    public string StageOf(int version) =>
        version == Active ? "production" : version == Canary ? "canary" : History.Contains(version) || RolledBack.Contains(version) ? "archived" : "staging";
}

/// <summary>A model of the registry: its versions and its deployment, stored as one document (one ETag).</summary>
public sealed class ModelRecord
{
    public string Id { get; set; } = "";
    public string Task { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public List<ModelVersion> Versions { get; set; } = [];
    public Deployment Deployment { get; set; } = new();

    public ModelVersion? Find(int version) => Versions.FirstOrDefault(v => v.Version == version);
}

public enum DeployOutcome { Done, NotFound, Stale, Invalid }

/// <summary>One change to a deployment (the body of PUT .../deploy), applied by <see cref="Apply"/>.</summary>
public sealed record DeployChange(int? Version, int? CanaryPercent, bool Rollback, bool Promote)
{
    /// <summary>Applies the change, or says why it cannot be applied to this model.</summary>
    public string? Apply(ModelRecord model, DateTimeOffset now)
    {
        var d = model.Deployment;
        if (Rollback)
        {
            if (d.Canary is not null)
            {
                d.Canary = null;
                d.CanaryPercent = 0;
            }
            else if (d.History.Count > 0)
            {
                if (d.Active is { } current && !d.RolledBack.Contains(current))
                {
                    d.RolledBack.Add(current);
                }
                d.Active = d.History[^1];
                d.History.RemoveAt(d.History.Count - 1);
            }
            else
            {
                return "nothing to roll back: no canary and no earlier active version";
            }
        }
        else if (Promote)
        {
            if (d.Canary is not { } canary)
            {
                return "no canary to promote";
            }
            Activate(d, canary);
        }
        else if (Version is { } version)
        {
            if (model.Find(version) is null)
            {
                return $"model {model.Id} has no version {version}";
            }
            if (CanaryPercent is { } percent and < 100)
            {
                if (d.Active is null || d.Active == version)
                {
                    return "a canary needs another version already active";
                }
                d.Canary = version;
                d.CanaryPercent = percent;
            }
            else
            {
                Activate(d, version);
            }
        }
        d.Revision++;
        d.ChangedAt = now;
        return null;
    }

    private static void Activate(Deployment d, int version)
    {
        if (d.Active is { } previous && previous != version)
        {
            d.History.Add(previous);
        }
        d.Active = version;
        d.Canary = null;
        d.CanaryPercent = 0;
    }
}
