using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace AgenticFlow.Workflows.Domain;

/// <summary>One problem in a definition, at its JSON pointer (RFC 6901).</summary>
public sealed record DefinitionProblem(string Pointer, string Message);

/// <summary>
/// Checks a posted definition completely and reports every problem with where it is: the shape (types, required
/// fields), unknown step or trigger kinds, step ids (CEL identifiers, unique in the whole definition), expressions
/// that do not parse, references to steps that do not exist (dangling) or do not run before the step that reads them
/// (a cycle), the inputs' JSON schema, cron expressions and limits. Definitions it accepts deserialize into
/// <see cref="WorkflowDefinition"/>.
/// </summary>
public static partial class DefinitionValidator
{
    public const int MaxSteps = 2_000;
    public const double MaxSeconds = 366 * 24 * 3600;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    private static partial Regex StepId();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex Name();

    public static bool IsName(string? value) => value is not null && Name().IsMatch(value);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")]
    private static partial Regex RunIdPattern();

    /// <summary>A run id (a Dapr workflow instance id: at most 256 characters); triggered and child runs' ids are longer than names.</summary>
    public static bool IsRunId(string? value) => value is not null && RunIdPattern().IsMatch(value);

    public static List<DefinitionProblem> Check(JsonNode? root)
    {
        var run = new Checker();
        run.Root(root);
        return run.Problems;
    }

    private sealed partial class Checker
    {
        public List<DefinitionProblem> Problems { get; } = [];

        // Step ids in document order with where they sit, for references.
        private readonly Dictionary<string, StepPlace> _places = new(StringComparer.Ordinal);
        private readonly List<(string Pointer, string Expression, StepPlace? Reader, bool Compensation)> _expressions = [];
        private int _order;
        private int _count;

        private sealed record StepPlace(int Order, string Pointer, IReadOnlyList<string> Ancestors, int End)
        {
            public int End { get; set; } = End;
        }

        private void Add(string pointer, string message) => Problems.Add(new DefinitionProblem(pointer, message));

        public void Root(JsonNode? root)
        {
            if (root is not JsonObject obj)
            {
                Add("", "a definition is a JSON object");
                return;
            }
            if (obj["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetValue<string>()))
            {
                Add("/name", "name is required: a non-empty string");
            }
            else if (name.GetValue<string>().Length > 200)
            {
                Add("/name", "name is at most 200 characters");
            }
            if (obj["description"] is { } description && description.GetValueKind() != JsonValueKind.String)
            {
                Add("/description", "description must be a string");
            }
            if (obj.ContainsKey("inputs"))
            {
                Schema(obj["inputs"]);
            }
            if (obj["steps"] is not JsonArray steps)
            {
                Add("/steps", "steps is required: an array of steps");
            }
            else if (steps.Count == 0)
            {
                Add("/steps", "steps must hold at least one step");
            }
            else
            {
                Sequence(steps, "/steps", [], forEach: false);
            }
            if (obj["triggers"] is { } triggers)
            {
                Triggers(triggers);
            }
            if (obj["output"] is { } output)
            {
                Template(output, "/output", null, forEach: false, compensation: true);
            }
            foreach (var (pointer, expression, reader, compensation) in _expressions)
            {
                foreach (var id in Expressions.StepReferences(expression))
                {
                    if (!_places.TryGetValue(id, out var target))
                    {
                        Add(pointer, $"refers to step '{id}', which does not exist");
                    }
                    else if (reader is not null && !compensation && (target.Order >= reader.Order || reader.Ancestors.Contains(id)))
                    {
                        Add(pointer, $"refers to step '{id}', which does not complete before this step (a cycle)");
                    }
                }
            }
        }

        private void Schema(JsonNode? inputs)
        {
            if (inputs is not (JsonObject or JsonValue) || (inputs is JsonValue v && v.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)))
            {
                Add("/inputs", "inputs must be a JSON schema (an object or a boolean)");
                return;
            }
            try
            {
                var schema = JsonSchema.FromText(inputs.ToJsonString());
                // Evaluating once finds references the schema cannot resolve.
                schema.Evaluate(JsonDocument.Parse("null").RootElement);
            }
            catch (Exception ex) when (ex is JsonException or JsonSchemaException or InvalidOperationException or ArgumentException or NotSupportedException or FormatException or RefResolutionException)
            {
                Add("/inputs", $"inputs is not a valid JSON schema: {ex.Message}");
            }
        }

        private void Sequence(JsonArray steps, string pointer, IReadOnlyList<string> ancestors, bool forEach)
        {
            for (var i = 0; i < steps.Count; i++)
            {
                Step(steps[i], $"{pointer}/{i}", ancestors, forEach, compensation: false);
            }
        }

        private void Step(JsonNode? node, string pointer, IReadOnlyList<string> ancestors, bool forEach, bool compensation)
        {
            if (++_count > MaxSteps)
            {
                if (_count == MaxSteps + 1)
                {
                    Add(pointer, $"a definition holds at most {MaxSteps} steps");
                }
                return;
            }
            if (node is not JsonObject step)
            {
                Add(pointer, "a step is a JSON object");
                return;
            }
            var id = Text(step, "id", pointer, required: !compensation);
            StepPlace? place = null;
            if (id is not null)
            {
                if (!StepId().IsMatch(id))
                {
                    Add($"{pointer}/id", "a step id starts with a letter or '_' and holds only letters, digits and '_' (at most 64), so expressions can name it");
                }
                else if (_places.ContainsKey(id))
                {
                    Add($"{pointer}/id", $"step id '{id}' is used twice (ids are unique in the whole definition)");
                }
                else if (!compensation)
                {
                    place = new StepPlace(_order++, pointer, ancestors, 0);
                    _places[id] = place;
                }
            }
            var kind = Text(step, "kind", pointer, required: true);
            if (kind is not null && !StepKinds.All.Contains(kind))
            {
                Add($"{pointer}/kind", $"unknown step kind '{kind}'; one of {string.Join(", ", StepKinds.All)}");
            }
            if (compensation && kind is StepKinds.Parallel or StepKinds.Condition or StepKinds.WaitForEvent or StepKinds.SubWorkflow)
            {
                Add($"{pointer}/kind", "a compensation is one step of kind llm, agent-task, invoke, publish or delay");
            }
            Expression(step, "when", pointer, place, forEach, compensation);
            Seconds(step, "timeoutSeconds", pointer, required: false, allowZero: false);
            if (step["retry"] is { } retry)
            {
                Retry(retry, $"{pointer}/retry");
            }
            if (step["compensate"] is { } compensate)
            {
                if (compensation)
                {
                    Add($"{pointer}/compensate", "a compensation has no compensation of its own");
                }
                else
                {
                    Step(compensate, $"{pointer}/compensate", ancestors, forEach, compensation: true);
                }
            }
            var inner = id is null ? ancestors : [.. ancestors, id];
            switch (kind)
            {
                case StepKinds.Llm:
                    TemplateText(step, "prompt", pointer, place, forEach, compensation, required: true);
                    TemplateText(step, "system", pointer, place, forEach, compensation, required: false);
                    Text(step, "model", pointer, required: false);
                    break;
                case StepKinds.AgentTask:
                    if (Text(step, "team", pointer, required: true) is { } team && !IsName(team) && Expressions.Embedded(team).Count == 0)
                    {
                        Add($"{pointer}/team", "team is a team id (letters, digits, '.', '_', '-') or a ${…} expression");
                    }
                    TemplateText(step, "team", pointer, place, forEach, compensation, required: false);
                    TemplateText(step, "description", pointer, place, forEach, compensation, required: true);
                    TemplateAny(step, "input", pointer, place, forEach, compensation);
                    if (step["requiredCapabilities"] is { } caps && (caps is not JsonArray list || list.Any(c => c?.GetValueKind() != JsonValueKind.String)))
                    {
                        Add($"{pointer}/requiredCapabilities", "requiredCapabilities is an array of capability names");
                    }
                    if (Text(step, "priority", pointer, required: false) is { } priority && priority is not ("critical" or "high" or "normal" or "low"))
                    {
                        Add($"{pointer}/priority", "priority is critical, high, normal or low");
                    }
                    Text(step, "affinityKey", pointer, required: false);
                    break;
                case StepKinds.Parallel:
                    Parallel(step, pointer, place, inner, forEach, compensation);
                    break;
                case StepKinds.Condition:
                    Expression(step, "if", pointer, place, forEach, compensation, required: true);
                    var any = false;
                    foreach (var branch in new[] { "then", "else" })
                    {
                        if (step[branch] is null)
                        {
                            continue;
                        }
                        any = true;
                        if (step[branch] is not JsonArray branchSteps)
                        {
                            Add($"{pointer}/{branch}", $"{branch} is an array of steps");
                        }
                        else
                        {
                            Sequence(branchSteps, $"{pointer}/{branch}", inner, forEach);
                        }
                    }
                    if (!any)
                    {
                        Add($"{pointer}/then", "a condition needs then, else or both");
                    }
                    break;
                case StepKinds.WaitForEvent:
                    if (Text(step, "event", pointer, required: true) is { } name && !IsName(name))
                    {
                        Add($"{pointer}/event", "an event name holds letters, digits, '.', '_' and '-' (at most 128)");
                    }
                    break;
                case StepKinds.Delay:
                    Seconds(step, "seconds", pointer, required: true, allowZero: true);
                    break;
                case StepKinds.Publish:
                    if (Text(step, "topic", pointer, required: true) is { } topic && !IsName(topic))
                    {
                        Add($"{pointer}/topic", "a topic holds letters, digits, '.', '_' and '-' (at most 128)");
                    }
                    if (Text(step, "pubsub", pointer, required: false) is { } pubsub && !IsName(pubsub))
                    {
                        Add($"{pointer}/pubsub", "pubsub names a pub/sub component");
                    }
                    TemplateAny(step, "data", pointer, place, forEach, compensation);
                    break;
                case StepKinds.Invoke:
                    if (Text(step, "app", pointer, required: true) is { } app && !IsName(app))
                    {
                        Add($"{pointer}/app", "app is a Dapr app id");
                    }
                    if (Text(step, "method", pointer, required: true) is { } method && (method.Contains("..", StringComparison.Ordinal) || method.Length > 512 || method.Any(char.IsControl)))
                    {
                        Add($"{pointer}/method", "method is a path on the app (no '..', no control characters, at most 512)");
                    }
                    if (Text(step, "verb", pointer, required: false) is { } verb && verb.ToUpperInvariant() is not ("GET" or "POST" or "PUT" or "DELETE" or "PATCH"))
                    {
                        Add($"{pointer}/verb", "verb is GET, POST, PUT, DELETE or PATCH");
                    }
                    TemplateAny(step, "data", pointer, place, forEach, compensation);
                    break;
                case StepKinds.SubWorkflow:
                    if (Text(step, "workflow", pointer, required: true) is { } workflow && !IsName(workflow))
                    {
                        Add($"{pointer}/workflow", "workflow is a definition id");
                    }
                    if (step["version"] is { } version && (version.GetValueKind() != JsonValueKind.Number || !version.AsValue().TryGetValue<int>(out var v) || v < 1))
                    {
                        Add($"{pointer}/version", "version is a positive integer");
                    }
                    TemplateAny(step, "input", pointer, place, forEach, compensation);
                    break;
            }
            if (place is not null)
            {
                place.End = _order;
            }
        }

        private string? Text(JsonObject obj, string field, string pointer, bool required)
        {
            var node = obj[field];
            if (node is null)
            {
                if (required)
                {
                    Add($"{pointer}/{field}", $"{field} is required");
                }
                return null;
            }
            if (node.GetValueKind() != JsonValueKind.String || string.IsNullOrWhiteSpace(node.GetValue<string>()))
            {
                Add($"{pointer}/{field}", $"{field} must be a non-empty string");
                return null;
            }
            return node.GetValue<string>();
        }

        private void Seconds(JsonObject obj, string field, string pointer, bool required, bool allowZero)
        {
            var node = obj[field];
            if (node is null)
            {
                if (required)
                {
                    Add($"{pointer}/{field}", $"{field} is required");
                }
                return;
            }
            if (node.GetValueKind() != JsonValueKind.Number || node.GetValue<double>() is var s && (s < 0 || (!allowZero && s == 0) || s > MaxSeconds))
            {
                Add($"{pointer}/{field}", $"{field} is a number of seconds, {(allowZero ? "0" : "above 0")} to {MaxSeconds}");
            }
        }

        private void Expression(JsonObject obj, string field, string pointer, StepPlace? reader, bool forEach, bool compensation, bool required = false)
        {
            if (Text(obj, field, pointer, required) is not { } expression)
            {
                return;
            }
            Check($"{pointer}/{field}", expression, reader, forEach, compensation);
        }

        private void Check(string pointer, string expression, StepPlace? reader, bool forEach, bool compensation)
        {
            if (Expressions.SyntaxError(expression) is { } error)
            {
                Add(pointer, $"expression does not parse: {error}");
                return;
            }
            if (!forEach && ReadsItem(expression))
            {
                Add(pointer, "item and index exist only inside a parallel forEach block");
            }
            _expressions.Add((pointer, expression, reader, compensation));
        }

        private static bool ReadsItem(string expression) =>
            Regex.IsMatch(expression, @"(?<![\w.'""])(item|index)\b(?!\s*\()") && !Regex.IsMatch(expression, @"\.(exists|all|map|filter|exists_one)\(\s*(item|index)\b");

        private void TemplateText(JsonObject obj, string field, string pointer, StepPlace? reader, bool forEach, bool compensation, bool required)
        {
            if (Text(obj, field, pointer, required) is { } text)
            {
                TemplateString(text, $"{pointer}/{field}", reader, forEach, compensation);
            }
        }

        private void TemplateAny(JsonObject obj, string field, string pointer, StepPlace? reader, bool forEach, bool compensation)
        {
            if (obj[field] is { } node)
            {
                Template(node, $"{pointer}/{field}", reader, forEach, compensation);
            }
        }

        private void Template(JsonNode node, string pointer, StepPlace? reader, bool forEach, bool compensation)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o)
                    {
                        if (value is not null)
                        {
                            Template(value, $"{pointer}/{Escape(key)}", reader, forEach, compensation);
                        }
                    }
                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (a[i] is { } item)
                        {
                            Template(item, $"{pointer}/{i}", reader, forEach, compensation);
                        }
                    }
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    TemplateString(v.GetValue<string>(), pointer, reader, forEach, compensation);
                    break;
            }
        }

        private void TemplateString(string text, string pointer, StepPlace? reader, bool forEach, bool compensation)
        {
            IReadOnlyList<string> embedded;
            try
            {
                embedded = Expressions.Embedded(text);
            }
            catch (ExpressionException ex)
            {
                Add(pointer, ex.Message);
                return;
            }
            foreach (var expression in embedded)
            {
                Check(pointer, expression, reader, forEach, compensation);
            }
        }

        private static string Escape(string key) => key.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }
}
