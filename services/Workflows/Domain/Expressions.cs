using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Antlr4.Runtime.Tree;
using Cel;
using Cel.Internal;

namespace AgenticFlow.Workflows.Domain;

/// <summary>An expression that does not parse or cannot be evaluated against its scope.</summary>
public sealed class ExpressionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// CEL (the <c>Cel</c> package) over a run's <c>input</c>, its <c>steps</c> (each <c>{status, output, error}</c>) and,
/// where they apply, <c>item</c>/<c>index</c> (a parallel block's list) and <c>event</c> (a trigger's event).
/// Strings may hold <c>${expr}</c>: a string that is exactly one such expression takes the expression's value (any
/// JSON), otherwise each is written into the string. Evaluation is a pure function of the scope, so the workflow
/// interpreter may evaluate in orchestration code without breaking replay.
/// </summary>
public static class Expressions
{
    private static readonly CelEnvironment Environment = new(null!, "");
    private static readonly ConcurrentDictionary<string, CelProgramDelegate> Compiled = new(StringComparer.Ordinal);

    /// <summary>The top-level names an expression may use.</summary>
    public static readonly IReadOnlySet<string> Variables = new HashSet<string>(StringComparer.Ordinal) { "input", "steps", "item", "index", "event" };

    /// <summary>Parses <paramref name="expression"/>; the parser's message when it does not parse.</summary>
    public static string? SyntaxError(string expression)
    {
        try
        {
            Compile(expression);
            return null;
        }
        catch (ExpressionException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The step ids an expression names as <c>steps.id</c> or <c>steps['id']</c>.</summary>
    public static IReadOnlyList<string> StepReferences(string expression)
    {
        var found = new List<string>();
        IParseTree tree;
        try
        {
            tree = Environment.Parse(expression);
        }
        catch (Exception ex) when (ex is CelException or Antlr4.Runtime.RecognitionException)
        {
            return found;
        }
        Walk(tree, found);
        return found;
    }

    private static void Walk(IParseTree node, List<string> found)
    {
        switch (node)
        {
            case CelParser.SelectContext select when select.ChildCount >= 3 && select.GetChild(0).GetText() == "steps":
                found.Add(select.GetChild(select.ChildCount - 1).GetText());
                break;
            case CelParser.IndexContext index when index.ChildCount >= 3 && index.GetChild(0).GetText() == "steps":
                var key = index.GetChild(2).GetText();
                if (key.Length >= 2 && key[0] is '\'' or '"' && key[^1] == key[0])
                {
                    found.Add(key[1..^1]);
                }
                break;
        }
        for (var i = 0; i < node.ChildCount; i++)
        {
            Walk(node.GetChild(i), found);
        }
    }

    /// <summary>Every <c>${…}</c> expression inside a template string, in order.</summary>
    public static IReadOnlyList<string> Embedded(string template)
    {
        var found = new List<string>();
        foreach (var part in Split(template))
        {
            if (part.IsExpression)
            {
                found.Add(part.Text);
            }
        }
        return found;
    }

    /// <summary>Every expression in a JSON template (strings anywhere inside it).</summary>
    public static IEnumerable<string> EmbeddedIn(JsonElement? template)
    {
        if (template is not { } value)
        {
            yield break;
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                foreach (var e in Embedded(value.GetString()!))
                {
                    yield return e;
                }
                break;
            case JsonValueKind.Object:
                foreach (var p in value.EnumerateObject())
                {
                    foreach (var e in EmbeddedIn(p.Value))
                    {
                        yield return e;
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    foreach (var e in EmbeddedIn(item))
                    {
                        yield return e;
                    }
                }
                break;
        }
    }

    public static JsonNode? Evaluate(string expression, IReadOnlyDictionary<string, JsonNode?> scope)
    {
        var program = Compile(expression);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in scope)
        {
            variables[name] = ToCel(value);
        }
        object? result;
        try
        {
            result = program(variables!);
        }
        catch (Exception ex) when (ex is CelException or InvalidCastException or ArgumentException or IndexOutOfRangeException or KeyNotFoundException or NullReferenceException)
        {
            throw new ExpressionException($"'{expression}': {ex.Message}", ex);
        }
        return FromCel(result, expression);
    }

    public static bool IsTrue(string expression, IReadOnlyDictionary<string, JsonNode?> scope) =>
        Evaluate(expression, scope) is JsonValue v && v.TryGetValue<bool>(out var b)
            ? b
            : throw new ExpressionException($"'{expression}' must be true or false");

    /// <summary>Resolves every <c>${…}</c> in a JSON template.</summary>
    public static JsonNode? Render(JsonElement? template, IReadOnlyDictionary<string, JsonNode?> scope) => template is { } t ? Render(t, scope) : null;

    public static JsonNode? Render(JsonElement template, IReadOnlyDictionary<string, JsonNode?> scope)
    {
        switch (template.ValueKind)
        {
            case JsonValueKind.String:
                return Render(template.GetString()!, scope);
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var p in template.EnumerateObject())
                {
                    obj[p.Name] = Render(p.Value, scope);
                }
                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in template.EnumerateArray())
                {
                    array.Add(Render(item, scope));
                }
                return array;
            default:
                return JsonNode.Parse(template.GetRawText());
        }
    }

    public static JsonNode? Render(string template, IReadOnlyDictionary<string, JsonNode?> scope)
    {
        var parts = Split(template);
        if (parts.Count == 1 && parts[0].IsExpression)
        {
            return Evaluate(parts[0].Text, scope);
        }
        var text = new StringBuilder();
        foreach (var part in parts)
        {
            if (!part.IsExpression)
            {
                text.Append(part.Text);
                continue;
            }
            var value = Evaluate(part.Text, scope);
            text.Append(value switch
            {
                null => "",
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                _ => value.ToJsonString(),
            });
        }
        return JsonValue.Create(text.ToString());
    }

    /// <summary>Renders a template that must come out as text (prompts, descriptions).</summary>
    public static string RenderText(string template, IReadOnlyDictionary<string, JsonNode?> scope) => Render(template, scope) switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => other.ToJsonString(),
    };

    private readonly record struct Part(string Text, bool IsExpression);

    /// <summary>Splits text around <c>${…}</c>, matching braces and skipping quoted strings inside an expression.</summary>
    private static List<Part> Split(string template)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            if (template[i] == '$' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var end = ClosingBrace(template, i + 2);
                if (end < 0)
                {
                    throw new ExpressionException($"'${{' at position {i} has no closing '}}'");
                }
                if (literal.Length > 0)
                {
                    parts.Add(new Part(literal.ToString(), false));
                    literal.Clear();
                }
                var expression = template[(i + 2)..end].Trim();
                if (expression.Length == 0)
                {
                    throw new ExpressionException($"'${{}}' at position {i} is empty");
                }
                parts.Add(new Part(expression, true));
                i = end + 1;
                continue;
            }
            literal.Append(template[i]);
            i++;
        }
        if (literal.Length > 0 || parts.Count == 0)
        {
            parts.Add(new Part(literal.ToString(), false));
        }
        return parts;
    }

    private static int ClosingBrace(string text, int from)
    {
        var depth = 0;
        char? quote = null;
        for (var i = from; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is { } q)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == q)
                {
                    quote = null;
                }
                continue;
            }
            switch (c)
            {
                case '\'' or '"':
                    quote = c;
                    break;
                case '{':
                    depth++;
                    break;
                case '}' when depth == 0:
                    return i;
                case '}':
                    depth--;
                    break;
            }
        }
        return -1;
    }

    private static CelProgramDelegate Compile(string expression)
    {
        if (Compiled.TryGetValue(expression, out var program))
        {
            return program;
        }
        try
        {
            program = Environment.Compile(expression);
        }
        catch (Exception ex) when (ex is CelException or Antlr4.Runtime.RecognitionException or InvalidOperationException or ArgumentException)
        {
            throw new ExpressionException($"'{expression}' does not parse: {ex.Message}", ex);
        }
        // Bounded: definitions are validated on create, so the set of expressions is the set stored.
        if (Compiled.Count < 10_000)
        {
            Compiled[expression] = program;
        }
        return program;
    }

    /// <summary>JSON into the values the CEL package works with (maps, arrays, int64 or double, strings, booleans).</summary>
    public static object? ToCel(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => obj.ToDictionary(p => p.Key, p => ToCel(p.Value), StringComparer.Ordinal),
        JsonArray array => array.Select(ToCel).ToArray(),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => value.TryGetValue<long>(out var l) ? l
                : value.TryGetValue<int>(out var i) ? (long)i
                : value.TryGetValue<double>(out var d) ? (d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (object)(long)d : d)
                : double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };

    private static JsonNode? FromCel(object? value, string expression) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        long l => JsonValue.Create(l),
        int i => JsonValue.Create((long)i),
        ulong u => JsonValue.Create(u),
        uint u => JsonValue.Create((long)u),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : throw new ExpressionException($"'{expression}' is not a finite number"),
        float f => JsonValue.Create((double)f),
        decimal m => JsonValue.Create(m),
        DateTimeOffset t => JsonValue.Create(t.ToString("O", CultureInfo.InvariantCulture)),
        DateTime t => JsonValue.Create(t.ToString("O", CultureInfo.InvariantCulture)),
        TimeSpan t => JsonValue.Create(t.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s"),
        byte[] bytes => JsonValue.Create(Convert.ToBase64String(bytes)),
        IDictionary map => Map(map, expression),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(v => FromCel(v, expression)).ToArray()),
        _ when value.GetType().Name == "CelNoSuchField" => throw new ExpressionException($"'{expression}' names a field that does not exist"),
        _ => throw new ExpressionException($"'{expression}' gave a value of type {value.GetType().Name}, which has no JSON form"),
    };

    private static JsonObject Map(IDictionary map, string expression)
    {
        var obj = new JsonObject();
        foreach (DictionaryEntry entry in map)
        {
            obj[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = FromCel(entry.Value, expression);
        }
        return obj;
    }
}
