using Microsoft.ML;
using Microsoft.ML.Data;

namespace AgenticFlow.Neural.Domain;

/// <summary>How a version is validated: a held-out share (<see cref="TestFraction"/>) or k-fold cross-validation.</summary>
public sealed record ValidationPlan(double TestFraction, int Folds)
{
    public static readonly ValidationPlan Default = new(0.2, 0);

    public override string ToString() => Folds > 1 ? $"{Folds}-fold cross-validation" : $"holdout {TestFraction:0.##}";
}

/// <summary>
/// ML.NET training for the four task kinds: the pipeline (numeric features normalised, text features featurised,
/// both concatenated), the trainer and its hyperparameters, and evaluation. Seeded, so the same data and settings
/// give the same model and the same split in every step of a job.
/// </summary>
public static class ModelTrainer
{
    private const int Seed = 1;

    /// <summary>Trainers per task; the first is the default.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Trainers = new Dictionary<string, string[]>
    {
        [ModelTasks.Binary] = ["sdca", "lbfgs", "fasttree"],
        [ModelTasks.Multiclass] = ["sdca", "lbfgs"],
        [ModelTasks.TextClassification] = ["sdca", "lbfgs"],
        [ModelTasks.Regression] = ["sdca", "fasttree"],
    };

    /// <summary>Hyperparameters each trainer takes, with their allowed range.</summary>
    public static readonly IReadOnlyDictionary<string, Dictionary<string, (double Min, double Max)>> Hyperparameters = new Dictionary<string, Dictionary<string, (double, double)>>
    {
        ["sdca"] = new() { ["iterations"] = (1, 1000), ["l2"] = (0, 100) },
        ["lbfgs"] = new() { ["l1"] = (0, 100), ["l2"] = (0, 100) },
        ["fasttree"] = new() { ["trees"] = (1, 2000), ["leaves"] = (2, 1024), ["learningRate"] = (0.0001, 1), ["minExamplesPerLeaf"] = (1, 10000) },
    };

    public static MLContext NewContext() => new(seed: Seed);

    public static IEstimator<ITransformer> Pipeline(MLContext ml, ModelSchema schema, string trainer, IReadOnlyDictionary<string, double> hyper)
    {
        var parts = new List<string>();
        IEstimator<ITransformer> pipeline = new EstimatorChain<ITransformer>();
        if (schema.NumericCount > 0)
        {
            pipeline = pipeline.Append(ml.Transforms.NormalizeMinMax("NumericNormalized", nameof(ModelInput.Numeric)));
            parts.Add("NumericNormalized");
        }
        if (schema.HasText)
        {
            pipeline = pipeline.Append(ml.Transforms.Text.FeaturizeText("TextFeatures", nameof(ModelInput.Text)));
            parts.Add("TextFeatures");
        }
        pipeline = pipeline.Append(ml.Transforms.Concatenate("Features", [.. parts]));
        int? Int(string name) => hyper.TryGetValue(name, out var v) ? (int)v : null;
        float? Float(string name) => hyper.TryGetValue(name, out var v) ? (float)v : null;
        switch (schema.Task)
        {
            case ModelTasks.Binary:
                return pipeline.Append<ITransformer>(trainer switch
                {
                    "lbfgs" => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(nameof(ModelInput.LabelFlag), "Features",
                        l1Regularization: Float("l1") ?? 1f, l2Regularization: Float("l2") ?? 1f),
                    "fasttree" => ml.BinaryClassification.Trainers.FastTree(nameof(ModelInput.LabelFlag), "Features", numberOfLeaves: Int("leaves") ?? 20,
                        numberOfTrees: Int("trees") ?? 100, minimumExampleCountPerLeaf: Int("minExamplesPerLeaf") ?? 10, learningRate: hyper.GetValueOrDefault("learningRate", 0.2)),
                    _ => ml.BinaryClassification.Trainers.SdcaLogisticRegression(nameof(ModelInput.LabelFlag), "Features",
                        l2Regularization: Float("l2"), maximumNumberOfIterations: Int("iterations")),
                });
            case ModelTasks.Regression:
                return pipeline.Append<ITransformer>(trainer switch
                {
                    "fasttree" => ml.Regression.Trainers.FastTree(nameof(ModelInput.LabelValue), "Features", numberOfLeaves: Int("leaves") ?? 20,
                        numberOfTrees: Int("trees") ?? 100, minimumExampleCountPerLeaf: Int("minExamplesPerLeaf") ?? 10, learningRate: hyper.GetValueOrDefault("learningRate", 0.2)),
                    _ => ml.Regression.Trainers.Sdca(nameof(ModelInput.LabelValue), "Features",
                        l2Regularization: Float("l2"), maximumNumberOfIterations: Int("iterations")),
                });
            default:
                var keyed = pipeline.Append(ml.Transforms.Conversion.MapValueToKey("Label", nameof(ModelInput.LabelText)));
                var classifier = trainer switch
                {
                    "lbfgs" => keyed.Append<ITransformer>(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features",
                        l1Regularization: Float("l1") ?? 1f, l2Regularization: Float("l2") ?? 1f)),
                    _ => keyed.Append<ITransformer>(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features",
                        l2Regularization: Float("l2"), maximumNumberOfIterations: Int("iterations"))),
                };
                return classifier.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        }
    }

    /// <summary>The rows a version is trained on and the rows it is evaluated on: a seeded split, or all rows when
    /// it is cross-validated.</summary>
    public static (IDataView Train, IDataView? Test) Split(MLContext ml, IDataView data, ValidationPlan plan)
    {
        if (plan.Folds > 1)
        {
            return (data, null);
        }
        var split = ml.Data.TrainTestSplit(data, plan.TestFraction, seed: Seed);
        return (split.TrainSet, split.TestSet);
    }

    public static byte[] Train(Tabular data, ModelSchema schema, string trainer, IReadOnlyDictionary<string, double> hyper, ValidationPlan plan)
    {
        var ml = NewContext();
        var view = ModelInputs.Load(ml, ModelInputs.FromData(data, schema), schema);
        var (train, _) = Split(ml, view, plan);
        var model = Pipeline(ml, schema, trainer, hyper).Fit(train);
        using var stream = new MemoryStream();
        ml.Model.Save(model, view.Schema, stream);
        return stream.ToArray();
    }

    /// <summary>Metrics of the stored model on the held-out rows, or averaged over k folds (each fold trains anew).</summary>
    public static Dictionary<string, double> Evaluate(Tabular data, ModelSchema schema, string trainer, IReadOnlyDictionary<string, double> hyper, ValidationPlan plan, byte[] model)
    {
        var ml = NewContext();
        var rows = ModelInputs.FromData(data, schema);
        if (plan.Folds > 1)
        {
            return CrossValidate(ml, rows, schema, trainer, hyper, plan.Folds);
        }
        var (_, test) = Split(ml, ModelInputs.Load(ml, rows, schema), plan);
        using var stream = new MemoryStream(model);
        var transformer = ml.Model.Load(stream, out _);
        return Metrics(ml, schema.Task, transformer.Transform(test!));
    }

    /// <summary>k folds of a seeded shuffle; each fold's model is trained on the others and scored on it; the
    /// metrics are averaged. (Made here rather than by ML.NET's CrossValidate so that folds and the holdout use the
    /// same pipeline builder.)</summary>
    private static Dictionary<string, double> CrossValidate(MLContext ml, List<ModelInput> rows, ModelSchema schema, string trainer, IReadOnlyDictionary<string, double> hyper, int folds)
    {
        var pipeline = Pipeline(ml, schema, trainer, hyper);
        var shuffled = rows.OrderBy(_ => 0).ToList();
        new Random(Seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(shuffled));
        var perFold = new List<Dictionary<string, double>>();
        for (var fold = 0; fold < folds; fold++)
        {
            var testRows = shuffled.Where((_, i) => i % folds == fold).ToList();
            var trainRows = shuffled.Where((_, i) => i % folds != fold).ToList();
            var model = pipeline.Fit(ModelInputs.Load(ml, trainRows, schema));
            perFold.Add(Metrics(ml, schema.Task, model.Transform(ModelInputs.Load(ml, testRows, schema))));
        }
        return perFold.SelectMany(m => m).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => Math.Round(g.Average(p => p.Value), 6));
    }

    private static Dictionary<string, double> Metrics(MLContext ml, string task, IDataView scored)
    {
        var metrics = new Dictionary<string, double>();
        switch (task)
        {
            case ModelTasks.Binary:
                var binary = ml.BinaryClassification.EvaluateNonCalibrated(scored, nameof(ModelInput.LabelFlag));
                metrics["accuracy"] = binary.Accuracy;
                metrics["f1"] = Finite(binary.F1Score);
                metrics["precision"] = Finite(binary.PositivePrecision);
                metrics["recall"] = Finite(binary.PositiveRecall);
                if (!double.IsNaN(binary.AreaUnderRocCurve))
                {
                    metrics["auc"] = binary.AreaUnderRocCurve;
                }
                break;
            case ModelTasks.Regression:
                var regression = ml.Regression.Evaluate(scored, nameof(ModelInput.LabelValue));
                metrics["rmse"] = regression.RootMeanSquaredError;
                metrics["mae"] = regression.MeanAbsoluteError;
                metrics["r2"] = Finite(regression.RSquared);
                break;
            default:
                var multiclass = ml.MulticlassClassification.Evaluate(scored, "Label");
                metrics["accuracy"] = multiclass.MicroAccuracy;
                metrics["macroAccuracy"] = multiclass.MacroAccuracy;
                metrics["logLoss"] = Finite(multiclass.LogLoss);
                metrics["f1"] = MacroF1(multiclass.ConfusionMatrix);
                break;
        }
        return metrics.ToDictionary(p => p.Key, p => Math.Round(p.Value, 6));
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    /// <summary>The mean of each class's F1 (classes absent from the test rows count as 0 recall and precision).</summary>
    private static double MacroF1(ConfusionMatrix matrix)
    {
        var f1 = new List<double>();
        for (var c = 0; c < matrix.NumberOfClasses; c++)
        {
            double p = matrix.PerClassPrecision[c], r = matrix.PerClassRecall[c];
            f1.Add(p + r > 0 && double.IsFinite(p) && double.IsFinite(r) ? 2 * p * r / (p + r) : 0);
        }
        return f1.Count == 0 ? 0 : f1.Average();
    }
}
