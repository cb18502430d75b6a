using System.Globalization;
using System.Text.Json;
using AgenticFlow.Neural.Domain;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AgenticFlow.Neural.Inference;

/// <summary>
/// An uploaded ONNX version served with ONNX Runtime. A row names each input (a number, a string or an array of
/// them); a model with one input also takes the row as a bare array. Inputs whose first dimension is free are
/// scored for all rows in one run; the answer gives every tensor output by name.
/// </summary>
public sealed class OnnxModel : ILoadedModel
{
    private readonly InferenceSession _session;
    private readonly List<TensorSignature> _inputs;

    public OnnxModel(byte[] artifact)
    {
        _session = new InferenceSession(artifact);
        _inputs = Signature(_session.InputMetadata);
    }

    /// <summary>Opens <paramref name="artifact"/> to read its signature (throws <see cref="OnnxRuntimeException"/> when it is not ONNX).</summary>
    public static (List<TensorSignature> Inputs, List<TensorSignature> Outputs) Describe(byte[] artifact)
    {
        using var session = new InferenceSession(artifact);
        return (Signature(session.InputMetadata), Signature(session.OutputMetadata));
    }

    private static List<TensorSignature> Signature(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        nodes.Where(n => n.Value.IsTensor).Select(n => new TensorSignature(n.Key, TypeName(n.Value.ElementType), n.Value.Dimensions)).ToList();

    private static string TypeName(Type type) => type == typeof(float) ? "float" : type == typeof(double) ? "double" : type == typeof(long) ? "int64"
        : type == typeof(int) ? "int32" : type == typeof(string) ? "string" : type == typeof(bool) ? "bool" : type.Name;

    public static bool Supported(TensorSignature input) => input.ElementType is "float" or "double" or "int64" or "int32" or "string" or "bool";

    private int PerRow(TensorSignature input) => input.Shape.Skip(1).Aggregate(1, (a, d) => a * Math.Max(1, d));

    public object? Read(JsonElement row, out string? problem)
    {
        problem = null;
        var values = new Dictionary<string, List<string?>>(StringComparer.Ordinal);
        if (row.ValueKind == JsonValueKind.Array && _inputs.Count == 1)
        {
            values[_inputs[0].Name] = Cells(row);
        }
        else if (row.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in row.EnumerateObject())
            {
                if (_inputs.All(i => i.Name != property.Name))
                {
                    problem = $"unknown input {property.Name}; the model reads {string.Join(", ", _inputs.Select(i => i.Name))}";
                    return null;
                }
                values[property.Name] = property.Value.ValueKind == JsonValueKind.Array ? Cells(property.Value) : [Cell(property.Value)];
            }
        }
        else
        {
            problem = $"a row is an object by input name ({string.Join(", ", _inputs.Select(i => i.Name))}), or an array for a model with one input";
            return null;
        }
        foreach (var input in _inputs)
        {
            if (!values.TryGetValue(input.Name, out var cells))
            {
                problem = $"input {input.Name} is missing";
                return null;
            }
            if (cells.Count != PerRow(input))
            {
                problem = $"input {input.Name} takes {PerRow(input)} values per row, not {cells.Count}";
                return null;
            }
            if (input.ElementType != "string" && cells.Any(c => !double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && c is not ("true" or "false")))
            {
                problem = $"input {input.Name} takes numbers";
                return null;
            }
        }
        return values;
    }

    private static List<string?> Cells(JsonElement array) => array.EnumerateArray().Select(Cell).ToList();

    private static string? Cell(JsonElement value) => Tabular.TryCell(value, out var cell) ? cell : null;

    public Task<IReadOnlyList<Prediction>> PredictAsync(IReadOnlyList<object> rows, CancellationToken ct)
    {
        var typed = rows.Cast<Dictionary<string, List<string?>>>().ToList();
        // A fixed first dimension (a model exported for one row) is run row by row.
        if (_inputs.Any(i => i.Shape.Length == 0 || i.Shape[0] != -1))
        {
            return Task.FromResult<IReadOnlyList<Prediction>>(typed.SelectMany(r => Run([r])).ToList());
        }
        return Task.FromResult(Run(typed));
    }

    private IReadOnlyList<Prediction> Run(List<Dictionary<string, List<string?>>> rows)
    {
        var inputs = _inputs.Select(input =>
        {
            var shape = input.Shape.Select((d, i) => i == 0 && d == -1 ? rows.Count : Math.Max(1, d)).ToArray();
            var cells = rows.SelectMany(r => r[input.Name]).ToArray();
            return input.ElementType switch
            {
                "float" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(cells.Select(c => float.Parse(Numeric(c), CultureInfo.InvariantCulture)).ToArray(), shape)),
                "double" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<double>(cells.Select(c => double.Parse(Numeric(c), CultureInfo.InvariantCulture)).ToArray(), shape)),
                "int64" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<long>(cells.Select(c => (long)double.Parse(Numeric(c), CultureInfo.InvariantCulture)).ToArray(), shape)),
                "int32" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<int>(cells.Select(c => (int)double.Parse(Numeric(c), CultureInfo.InvariantCulture)).ToArray(), shape)),
                "bool" => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<bool>(cells.Select(c => c is "true" or "1").ToArray(), shape)),
                _ => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<string>(cells.Select(c => c ?? "").ToArray(), shape)),
            };
        }).ToList();
        using var results = _session.Run(inputs);
        var predictions = Enumerable.Range(0, rows.Count).Select(_ => new Dictionary<string, object>(StringComparer.Ordinal)).ToList();
        foreach (var result in results)
        {
            object[]? flat = result.Value switch
            {
                Tensor<float> t => t.ToArray().Select(v => (object)Math.Round(v, 6)).ToArray(),
                Tensor<double> t => t.ToArray().Select(v => (object)Math.Round(v, 6)).ToArray(),
                Tensor<long> t => t.ToArray().Select(v => (object)v).ToArray(),
                Tensor<int> t => t.ToArray().Select(v => (object)v).ToArray(),
                Tensor<bool> t => t.ToArray().Select(v => (object)v).ToArray(),
                Tensor<string> t => t.ToArray().Select(v => (object)v).ToArray(),
                _ => null,
            };
            if (flat is null || flat.Length % rows.Count != 0)
            {
                continue;
            }
            var per = flat.Length / rows.Count;
            for (var r = 0; r < rows.Count; r++)
            {
                predictions[r][result.Name] = per == 1 ? flat[r] : flat.Skip(r * per).Take(per).ToArray();
            }
        }
        return predictions.Select(p => new Prediction(null, null, null, null, p)).ToList();
    }

    private static string Numeric(string? cell) => cell switch { "true" => "1", "false" => "0", null => "0", _ => cell };

    public void Dispose() => _session.Dispose();
}
