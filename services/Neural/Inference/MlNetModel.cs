using System.Globalization;
using System.Text.Json;
using AgenticFlow.Neural.Domain;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace AgenticFlow.Neural.Inference;

/// <summary>A trained ML.NET version: single rows go through the micro-batcher's per-worker PredictionEngines,
/// requests of many rows through one batch Transform.</summary>
public sealed class MlNetModel : ILoadedModel
{
    /// <summary>From this many rows a request is scored as one IDataView rather than row by row.</summary>
    public const int BatchTransformRows = 32;

    private readonly ModelSchema _schema;
    private readonly MicroBatcher<ModelInput, Prediction> _batcher;
    private readonly Func<IReadOnlyList<ModelInput>, List<Prediction>> _transform;

    public MlNetModel(byte[] artifact, ModelSchema schema, int workers)
    {
        _schema = schema;
        var ml = ModelTrainer.NewContext();
        ITransformer model;
        using (var stream = new MemoryStream(artifact, writable: false))
        {
            model = ml.Model.Load(stream, out _);
        }
        var definition = ModelInputs.Definition(schema);
        switch (schema.Task)
        {
            case ModelTasks.Binary:
                _batcher = new(() => Engine<BinaryOutput>(ml, model, definition, Binary), workers);
                _transform = rows => Transform<BinaryOutput>(ml, model, definition, rows).Select(Binary).ToList();
                break;
            case ModelTasks.Regression:
                _batcher = new(() => Engine<RegressionOutput>(ml, model, definition, Regression), workers);
                _transform = rows => Transform<RegressionOutput>(ml, model, definition, rows).Select(Regression).ToList();
                break;
            default:
                var classes = ClassesOf(model, ml, definition);
                _batcher = new(() => Engine<MulticlassOutput>(ml, model, definition, o => Multiclass(o, classes)), workers);
                _transform = rows => Transform<MulticlassOutput>(ml, model, definition, rows).Select(o => Multiclass(o, classes)).ToList();
                break;
        }
    }

    public object? Read(JsonElement row, out string? problem)
    {
        problem = null;
        var cells = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (row.ValueKind == JsonValueKind.Array)
        {
            if (row.GetArrayLength() != _schema.Features.Count)
            {
                problem = $"a row as an array needs {_schema.Features.Count} values ({string.Join(", ", _schema.Features.Select(f => f.Name))}), not {row.GetArrayLength()}";
                return null;
            }
            var i = 0;
            foreach (var value in row.EnumerateArray())
            {
                cells[_schema.Features[i++].Name] = Tabular.TryCell(value, out var cell) ? cell : null;
            }
        }
        else if (row.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in row.EnumerateObject())
            {
                cells[property.Name] = Tabular.TryCell(property.Value, out var cell) ? cell : null;
            }
            var unknown = cells.Keys.Where(k => _schema.Features.All(f => f.Name != k) && k != _schema.Label).ToList();
            if (unknown.Count > 0)
            {
                problem = $"unknown features {string.Join(", ", unknown)}; the model reads {string.Join(", ", _schema.Features.Select(f => f.Name))}";
                return null;
            }
        }
        else
        {
            problem = "a row is an object of feature values or an array of them in feature order";
            return null;
        }
        foreach (var feature in _schema.Features)
        {
            var value = cells.GetValueOrDefault(feature.Name);
            if (value is null)
            {
                problem = $"feature {feature.Name} is missing";
                return null;
            }
            if (feature.Kind == FeatureKinds.Numeric && !float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                problem = $"feature {feature.Name} is numeric, not '{value}'";
                return null;
            }
        }
        return ModelInputs.From(_schema, name => cells.GetValueOrDefault(name), withLabel: false);
    }

    public async Task<IReadOnlyList<Prediction>> PredictAsync(IReadOnlyList<object> rows, CancellationToken ct)
    {
        if (rows.Count >= BatchTransformRows)
        {
            return _transform(rows.Cast<ModelInput>().ToList());
        }
        if (rows.Count == 1)
        {
            return [await _batcher.PredictAsync((ModelInput)rows[0])];
        }
        return await Task.WhenAll(rows.Select(r => _batcher.PredictAsync((ModelInput)r)));
    }

    private static Func<ModelInput, Prediction> Engine<TOut>(MLContext ml, ITransformer model, SchemaDefinition definition, Func<TOut, Prediction> map)
        where TOut : class, new()
    {
        var engine = ml.Model.CreatePredictionEngine<ModelInput, TOut>(model, inputSchemaDefinition: definition);
        return input => map(engine.Predict(input));
    }

    private static IEnumerable<TOut> Transform<TOut>(MLContext ml, ITransformer model, SchemaDefinition definition, IReadOnlyList<ModelInput> rows)
        where TOut : class, new() =>
        ml.Data.CreateEnumerable<TOut>(model.Transform(ml.Data.LoadFromEnumerable(rows, definition)), reuseRowObject: false);

    /// <summary>The class names in score order: the key values of the label the model was trained on.</summary>
    private static string[] ClassesOf(ITransformer model, MLContext ml, SchemaDefinition definition)
    {
        var schema = model.GetOutputSchema(ml.Data.LoadFromEnumerable(Array.Empty<ModelInput>(), definition).Schema);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        schema["Label"].GetKeyValues(ref keys);
        return keys.DenseValues().Select(k => k.ToString()).ToArray();
    }

    private static Prediction Binary(BinaryOutput o) =>
        new(o.PredictedLabel ? "true" : "false", Math.Round(o.Score, 6), Math.Round(o.Probability, 6), null, null);

    private static Prediction Regression(RegressionOutput o) => new(null, Math.Round(o.Score, 6), null, null, null);

    private static Prediction Multiclass(MulticlassOutput o, string[] classes)
    {
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < Math.Min(classes.Length, o.Score.Length); i++)
        {
            scores[classes[i]] = Math.Round(o.Score[i], 6);
        }
        return new(o.PredictedLabel, scores.GetValueOrDefault(o.PredictedLabel), null, scores, null);
    }

    public void Dispose() => _batcher.Dispose();
}
