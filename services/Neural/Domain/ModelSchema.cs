using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace AgenticFlow.Neural.Domain;

public static class ModelTasks
{
    public const string Binary = "binary", Multiclass = "multiclass", Regression = "regression", TextClassification = "text-classification";

    /// <summary>Models whose versions are uploaded ONNX files rather than trained here.</summary>
    public const string Onnx = "onnx";

    public static readonly IReadOnlyList<string> Trainable = [Binary, Multiclass, Regression, TextClassification];

    public static bool IsClassification(string task) => task is Multiclass or TextClassification;
}

public static class FeatureKinds
{
    public const string Numeric = "numeric", Text = "text";
}

public sealed record FeatureColumn(string Name, string Kind);

/// <summary>What a trained version reads: its task, label and feature columns (numeric or text), in order.</summary>
public sealed record ModelSchema(string Task, string Label, List<FeatureColumn> Features)
{
    public int NumericCount => Features.Count(f => f.Kind == FeatureKinds.Numeric);

    public bool HasText => Features.Any(f => f.Kind == FeatureKinds.Text);

    /// <summary>The schema of <paramref name="data"/> for <paramref name="task"/>: every column but the label unless
    /// <paramref name="features"/> names them; a column is numeric when all its cells are numbers.</summary>
    public static ModelSchema? Infer(Tabular data, string task, string label, IReadOnlyList<string>? features, List<string> errors)
    {
        var labelIndex = data.IndexOf(label);
        if (labelIndex < 0)
        {
            errors.Add($"label column '{label}' is not in the data (columns: {string.Join(", ", data.Columns)})");
            return null;
        }
        var names = features is { Count: > 0 } ? features.ToList() : data.Columns.Where(c => c != label).ToList();
        if (names.Count == 0)
        {
            errors.Add("the data has no feature column besides the label");
            return null;
        }
        var columns = new List<FeatureColumn>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            var i = data.IndexOf(name);
            if (i < 0 || name == label)
            {
                errors.Add($"feature '{name}' is not a column of the data besides the label");
                continue;
            }
            columns.Add(new FeatureColumn(name, data.IsNumeric(i) ? FeatureKinds.Numeric : FeatureKinds.Text));
        }
        var schema = new ModelSchema(task, label, columns);
        if (task == ModelTasks.TextClassification && !schema.HasText)
        {
            errors.Add("text-classification needs at least one text feature column");
        }
        var rowNumber = 0;
        foreach (var row in data.Rows)
        {
            rowNumber++;
            if (LabelProblem(task, row[labelIndex]) is { } problem)
            {
                errors.Add($"row {rowNumber}: {problem}");
                break;
            }
        }
        if (task is ModelTasks.Binary && data.Rows.Select(r => ModelInputs.ParseFlag(r[labelIndex])).Distinct().Count() < 2)
        {
            errors.Add("a binary label needs both classes in the data");
        }
        if (ModelTasks.IsClassification(task) && data.Rows.Select(r => r[labelIndex]).Distinct(StringComparer.Ordinal).Count() < 2)
        {
            errors.Add("a classification label needs at least two classes in the data");
        }
        return errors.Count == 0 ? schema : null;
    }

    private static string? LabelProblem(string task, string? value) => task switch
    {
        _ when string.IsNullOrEmpty(value) => "the label is empty",
        ModelTasks.Binary when ModelInputs.ParseFlag(value) is null => $"binary labels are true/false, 1/0 or yes/no, not '{value}'",
        ModelTasks.Regression when !float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) => $"regression labels are numbers, not '{value}'",
        _ => null,
    };
}

/// <summary>The one row type every ML.NET model here reads: numeric features as a vector, text features joined, and
/// the label in the form its task trains on.</summary>
public sealed class ModelInput
{
    public float[] Numeric { get; set; } = [];
    public string Text { get; set; } = "";
    public string LabelText { get; set; } = "";
    public float LabelValue { get; set; }
    public bool LabelFlag { get; set; }
}

public sealed class BinaryOutput
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

public sealed class MulticlassOutput
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}

public sealed class RegressionOutput
{
    public float Score { get; set; }
}

public static class ModelInputs
{
    /// <summary>The schema definition of <see cref="ModelInput"/> with the numeric vector sized for <paramref name="schema"/>
    /// (at least one slot: ML.NET has no empty vectors).</summary>
    public static SchemaDefinition Definition(ModelSchema schema)
    {
        var definition = SchemaDefinition.Create(typeof(ModelInput));
        definition[nameof(ModelInput.Numeric)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Math.Max(1, schema.NumericCount));
        return definition;
    }

    public static bool? ParseFlag(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => null,
    };

    /// <summary>One row by column name; <paramref name="cell"/> answers null for a missing cell.</summary>
    public static ModelInput From(ModelSchema schema, Func<string, string?> cell, bool withLabel)
    {
        var numeric = new float[Math.Max(1, schema.NumericCount)];
        var text = new List<string>();
        var n = 0;
        foreach (var feature in schema.Features)
        {
            var value = cell(feature.Name);
            if (feature.Kind == FeatureKinds.Numeric)
            {
                numeric[n++] = float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : 0f;
            }
            else if (!string.IsNullOrEmpty(value))
            {
                text.Add(value);
            }
        }
        var input = new ModelInput { Numeric = numeric, Text = string.Join(' ', text) };
        if (withLabel)
        {
            var label = cell(schema.Label);
            input.LabelText = label ?? "";
            input.LabelFlag = ParseFlag(label) ?? false;
            input.LabelValue = float.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0f;
        }
        return input;
    }

    public static List<ModelInput> FromData(Tabular data, ModelSchema schema)
    {
        var index = data.Columns.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return data.Rows.Select(row => From(schema, name => index.TryGetValue(name, out var i) ? row[i] : null, withLabel: true)).ToList();
    }

    public static IDataView Load(MLContext ml, IEnumerable<ModelInput> rows, ModelSchema schema) =>
        ml.Data.LoadFromEnumerable(rows, Definition(schema));
}
