using System.Text.Json.Nodes;

namespace AgenticFlow.Workflows.Execution;

/// <summary>What expressions of one place in a run see: the run's <c>input</c>, the <c>steps</c> so far (each
/// <c>{status, output, error}</c>) and, inside a forEach block, its <c>item</c> and <c>index</c>.</summary>
internal sealed class RunScope
{
    private readonly JsonNode? _input;
    private readonly JsonObject _steps;
    private readonly JsonNode? _item;
    private readonly long? _index;

    private RunScope(JsonNode? input, JsonObject steps, JsonNode? item, long? index)
    {
        _input = input;
        _steps = steps;
        _item = item;
        _index = index;
    }

    public static RunScope Root(JsonNode? input) => new(input, [], null, null);

    /// <summary>A forEach item's scope: the steps so far, and its own steps added only here (its step ids repeat per item).</summary>
    public RunScope ForItem(JsonNode? item, long index) => new(_input, (JsonObject)_steps.DeepClone(), item?.DeepClone(), index);

    public void Record(string id, string status, JsonNode? output, string? error)
    {
        var entry = new JsonObject { ["status"] = status, ["output"] = output?.DeepClone() };
        if (error is not null)
        {
            entry["error"] = error;
        }
        _steps[id] = entry;
    }

    public IReadOnlyDictionary<string, JsonNode?> Variables
    {
        get
        {
            var variables = new Dictionary<string, JsonNode?>(StringComparer.Ordinal) { ["input"] = _input, ["steps"] = _steps };
            if (_index is { } index)
            {
                variables["item"] = _item;
                variables["index"] = JsonValue.Create(index);
            }
            return variables;
        }
    }
}
