using System.Collections.Concurrent;
using System.Text.Json;
using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using Microsoft.ML;

namespace AgenticFlow.Neural.Tests;

public class InferenceTests
{
    private static readonly Dictionary<string, double> NoHyper = [];

    private static (MlNetModel Model, ModelSchema Schema, byte[] Bytes) Binary()
    {
        var data = Samples.Binary();
        var schema = Samples.Schema(data, ModelTasks.Binary, "approved");
        var bytes = ModelTrainer.Train(data, schema, "sdca", NoHyper, ValidationPlan.Default);
        return (new MlNetModel(bytes, schema, workers: 2), schema, bytes);
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public async Task RowsByNameOrInOrder_GiveTheSamePrediction()
    {
        var (model, _, _) = Binary();
        using var owned = model;
        var named = model.Read(Json("""{"income": 9, "debt": 1}"""), out var p1);
        var ordered = model.Read(Json("[9, 1]"), out var p2);
        Assert.Null(p1);
        Assert.Null(p2);
        var predictions = await model.PredictAsync([named!, ordered!], CancellationToken.None);
        Assert.Equal("true", predictions[0].Label);
        Assert.Equal(predictions[0], predictions[1]);
        Assert.InRange(predictions[0].Probability!.Value, 0.5, 1.0);
    }

    [Theory]
    [InlineData("[1, 2, 3]", "needs 2 values")]
    [InlineData("""{"income": 1}""", "debt is missing")]
    [InlineData("""{"income": 1, "debt": 2, "age": 3}""", "unknown features age")]
    [InlineData("""{"income": "lots", "debt": 2}""", "numeric")]
    [InlineData("42", "a row is an object")]
    public void BadRows_AreRefusedWithAReason(string row, string reason)
    {
        var (model, _, _) = Binary();
        using var owned = model;
        Assert.Null(model.Read(Json(row), out var problem));
        Assert.Contains(reason, problem);
    }

    [Fact]
    public async Task ManyRowsThroughTheBatchPath_MatchSingleRows()
    {
        var (model, _, _) = Binary();
        using var owned = model;
        var rows = Enumerable.Range(0, MlNetModel.BatchTransformRows + 8)
            .Select(i => model.Read(Json($"[{i % 10}, {(i * 7) % 10}]"), out var _)!).ToList();
        var batched = await model.PredictAsync(rows, CancellationToken.None);
        var single = new List<Prediction>();
        foreach (var row in rows)
        {
            single.AddRange(await model.PredictAsync([row], CancellationToken.None));
        }
        Assert.Equal(single, batched);
    }

    [Fact]
    public async Task ConcurrentSingleRows_AreAllAnswered_EachPredictorOnOneThreadAtATime()
    {
        var busy = new ConcurrentDictionary<int, int>();
        var overlaps = 0;
        var predictorIds = 0;
        using var batcher = new MicroBatcher<int, int>(() =>
        {
            var id = Interlocked.Increment(ref predictorIds);
            return x =>
            {
                if (busy.AddOrUpdate(id, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }
                Thread.SpinWait(200);
                busy.AddOrUpdate(id, 0, (_, n) => n - 1);
                return x * 2;
            };
        }, workers: 4);
        var answers = await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => Task.Run(() => batcher.PredictAsync(i))));
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => i * 2), answers);
        Assert.Equal(0, overlaps);
        Assert.Equal(4, predictorIds);
    }

    [Fact]
    public async Task MlNetModelExportedToOnnx_IsServedWithTheSameScores()
    {
        // What a user does with an ML.NET model: export it with OnnxConverter and upload the file.
        var ml = new MLContext(seed: 1);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(_ =>
        {
            var f = new[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble() };
            return new OnnxRow { Features = f, Label = 2 * f[0] - f[1] + 0.5f * f[2] };
        }).ToList();
        var view = ml.Data.LoadFromEnumerable(rows);
        var trained = ml.Regression.Trainers.Sdca("Label", "Features").Fit(view);
        using var onnx = new MemoryStream();
        // Exported over the features alone, so the ONNX model's only input is the one a caller has.
        ml.Model.ConvertToOnnx(trained, ml.Data.LoadFromEnumerable(rows.Select(r => new OnnxFeatures { Features = r.Features })), onnx);
        var bytes = onnx.ToArray();

        var (inputs, outputs) = OnnxModel.Describe(bytes);
        var input = Assert.Single(inputs);
        Assert.Equal("Features", input.Name);
        Assert.Equal("float", input.ElementType);
        Assert.Contains(outputs, o => o.Name.StartsWith("Score", StringComparison.Ordinal));

        using var served = new OnnxModel(bytes);
        var engine = ml.Model.CreatePredictionEngine<OnnxRow, OnnxScore>(trained);
        var sample = new[] { 0.3f, 0.6f, 0.9f };
        var row = served.Read(Json("""{"Features": [0.3, 0.6, 0.9]}"""), out var problem);
        Assert.Null(problem);
        var prediction = Assert.Single(await served.PredictAsync([row!], CancellationToken.None));
        var score = prediction.Outputs!.First(o => o.Key.StartsWith("Score", StringComparison.Ordinal)).Value;
        Assert.Equal(engine.Predict(new OnnxRow { Features = sample }).Score, Convert.ToDouble(score), 3);
        Assert.Null(served.Read(Json("""{"Features": [0.3, 0.6]}"""), out var wrongCount));
        Assert.Contains("3 values", wrongCount);
    }

    public sealed class OnnxRow
    {
        [Microsoft.ML.Data.VectorType(3)] public float[] Features { get; set; } = [];
        public float Label { get; set; }
    }

    public sealed class OnnxFeatures
    {
        [Microsoft.ML.Data.VectorType(3)] public float[] Features { get; set; } = [];
    }

    public sealed class OnnxScore
    {
        public float Score { get; set; }
    }
}
