using Microsoft.ML;
using Microsoft.ML.Data;

namespace AgenticFlow.IntegrationTests.Neural;

/// <summary>An ONNX file as a user makes one: an ML.NET regression exported with OnnxConverter.</summary>
public static class OnnxSample
{
    public static byte[] Create(out Func<float, float, float, double> predict)
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(_ =>
        {
            var f = new[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble() };
            return new Row { Features = f, Label = 2 * f[0] - f[1] + 0.5f * f[2] };
        }).ToList();
        var model = ml.Regression.Trainers.Sdca("Label", "Features").Fit(ml.Data.LoadFromEnumerable(rows));
        using var onnx = new MemoryStream();
        ml.Model.ConvertToOnnx(model, ml.Data.LoadFromEnumerable(rows.Select(r => new Features { Values = r.Features })), onnx);
        var engine = ml.Model.CreatePredictionEngine<Row, Score>(model);
        predict = (a, b, c) => engine.Predict(new Row { Features = [a, b, c] }).Value;
        return onnx.ToArray();
    }

    public sealed class Row
    {
        [VectorType(3)] public float[] Features { get; set; } = [];
        public float Label { get; set; }
    }

    public sealed class Features
    {
        [VectorType(3), ColumnName("Features")] public float[] Values { get; set; } = [];
    }

    public sealed class Score
    {
        [ColumnName("Score")] public float Value { get; set; }
    }
}
