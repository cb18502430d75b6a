using System.Text.Json.Serialization;

namespace AgenticFlow.Neural.Inference;

/// <summary>One row's answer: a label with its score or probability (classification), a score (regression), or the
/// named outputs of an ONNX model.</summary>
public sealed record Prediction(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Label,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Score,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Probability,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Dictionary<string, double>? Scores,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Dictionary<string, object>? Outputs);

/// <summary>A version loaded into this replica and kept warm: it predicts rows already checked against its inputs.</summary>
public interface ILoadedModel : IDisposable
{
    /// <summary>Checks one request row (a JSON object by feature name, or an array in feature order) and turns it
    /// into what <see cref="PredictAsync"/> takes; null with a reason when it does not fit.</summary>
    object? Read(System.Text.Json.JsonElement row, out string? problem);

    Task<IReadOnlyList<Prediction>> PredictAsync(IReadOnlyList<object> rows, CancellationToken ct);
}
