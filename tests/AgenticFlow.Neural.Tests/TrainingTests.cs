using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Inference;
using System.Text.Json;

namespace AgenticFlow.Neural.Tests;

public class TrainingTests
{
    private static readonly Dictionary<string, double> NoHyper = [];

    [Theory]
    [InlineData("sdca")]
    [InlineData("lbfgs")]
    [InlineData("fasttree")]
    public void Binary_SeparableData_ScoresHighAccuracyAndAuc(string trainer)
    {
        var data = Samples.Binary();
        var schema = Samples.Schema(data, ModelTasks.Binary, "approved");
        var model = ModelTrainer.Train(data, schema, trainer, NoHyper, ValidationPlan.Default);
        var metrics = ModelTrainer.Evaluate(data, schema, trainer, NoHyper, ValidationPlan.Default, model);
        Assert.InRange(metrics["accuracy"], 0.85, 1.0);
        Assert.InRange(metrics["auc"], 0.9, 1.0);
        Assert.InRange(metrics["f1"], 0.8, 1.0);
    }

    [Fact]
    public void Multiclass_Clusters_ScoresHighAccuracyAndF1()
    {
        var data = Samples.Multiclass();
        var schema = Samples.Schema(data, ModelTasks.Multiclass, "colour");
        var model = ModelTrainer.Train(data, schema, "sdca", NoHyper, ValidationPlan.Default);
        var metrics = ModelTrainer.Evaluate(data, schema, "sdca", NoHyper, ValidationPlan.Default, model);
        Assert.InRange(metrics["accuracy"], 0.9, 1.0);
        Assert.InRange(metrics["f1"], 0.9, 1.0);
    }

    [Theory]
    [InlineData("sdca", 0.9)]
    [InlineData("fasttree", 0.9)]
    public void Regression_LinearData_HasLowErrorAndHighR2(string trainer, double minR2)
    {
        var data = Samples.Regression();
        var schema = Samples.Schema(data, ModelTasks.Regression, "price");
        var hyper = trainer == "sdca" ? new Dictionary<string, double> { ["iterations"] = 200 } : NoHyper;
        var model = ModelTrainer.Train(data, schema, trainer, hyper, ValidationPlan.Default);
        var metrics = ModelTrainer.Evaluate(data, schema, trainer, hyper, ValidationPlan.Default, model);
        Assert.InRange(metrics["r2"], minR2, 1.0);
        // Prices span ~5..310: an RMSE under 10% of that range is a fit, not a guess of the mean (~90).
        Assert.InRange(metrics["rmse"], 0, 30);
    }

    [Fact]
    public async Task TextClassification_Tickets_LearnsTopics()
    {
        var data = Samples.Text();
        var schema = Samples.Schema(data, ModelTasks.TextClassification, "topic");
        Assert.Equal([new FeatureColumn("ticket", FeatureKinds.Text)], schema.Features);
        var plan = new ValidationPlan(0, 3);
        var model = ModelTrainer.Train(data, schema, "sdca", NoHyper, plan);
        var metrics = ModelTrainer.Evaluate(data, schema, "sdca", NoHyper, plan, model);
        Assert.InRange(metrics["accuracy"], 0.7, 1.0);

        using var loaded = new MlNetModel(model, schema, workers: 2);
        var row = loaded.Read(JsonDocument.Parse("""{"ticket": "I was charged twice, refund please"}""").RootElement, out var problem);
        Assert.Null(problem);
        var prediction = Assert.Single(await loaded.PredictAsync([row!], CancellationToken.None));
        Assert.Equal("billing", prediction.Label);
        Assert.Equal(["billing", "bug", "feature"], prediction.Scores!.Keys.Order());
    }

    [Fact]
    public void CrossValidation_AveragesFoldMetrics()
    {
        var data = Samples.Binary(120);
        var schema = Samples.Schema(data, ModelTasks.Binary, "approved");
        var plan = new ValidationPlan(0, 4);
        var model = ModelTrainer.Train(data, schema, "sdca", NoHyper, plan);
        var metrics = ModelTrainer.Evaluate(data, schema, "sdca", NoHyper, plan, model);
        Assert.InRange(metrics["accuracy"], 0.8, 1.0);
    }

    [Fact]
    public void Training_IsDeterministic_ForTheSameDataAndSettings()
    {
        var data = Samples.Binary(80);
        var schema = Samples.Schema(data, ModelTasks.Binary, "approved");
        var first = ModelTrainer.Evaluate(data, schema, "sdca", NoHyper, ValidationPlan.Default, ModelTrainer.Train(data, schema, "sdca", NoHyper, ValidationPlan.Default));
        var second = ModelTrainer.Evaluate(data, schema, "sdca", NoHyper, ValidationPlan.Default, ModelTrainer.Train(data, schema, "sdca", NoHyper, ValidationPlan.Default));
        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData("binary", "approved", "maybe")]
    [InlineData("regression", "price", "expensive")]
    public void Infer_RefusesLabelsTheTaskCannotRead(string task, string label, string badValue)
    {
        var data = task == "binary" ? Samples.Binary(10) : Samples.Regression(10);
        var rows = data.Rows.Select(r => r.ToArray()).ToList();
        rows[3][2] = badValue;
        var errors = new List<string>();
        Assert.Null(ModelSchema.Infer(new Tabular(data.Columns, rows), task, label, null, errors));
        Assert.Contains(errors, e => e.Contains(badValue));
    }

    [Fact]
    public void Infer_TextClassificationWithoutTextColumns_IsRefused()
    {
        var errors = new List<string>();
        Assert.Null(ModelSchema.Infer(Samples.Multiclass(), ModelTasks.TextClassification, "colour", null, errors));
        Assert.Contains(errors, e => e.Contains("text feature"));
    }
}
