using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Json;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// The Dapr state query language (filter, sort, page) evaluated over JSON values. Filters: EQ, NEQ, IN,
/// GT, GTE, LT, LTE, AND, OR; keys are dot paths into the value. The page token is the offset to resume at.
/// </summary>
public sealed class StateQuery
{
    private readonly Func<JsonElement, bool> _filter;
    private readonly List<(string[] Path, bool Descending)> _sort = [];

    public int Limit { get; }
    public int Offset { get; }

    private StateQuery(Func<JsonElement, bool> filter, int limit, int offset)
    {
        _filter = filter;
        Limit = limit;
        Offset = offset;
    }

    public static StateQuery Parse(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"query is not valid JSON: {ex.Message}");
        }
        if (root is not JsonObject obj)
        {
            throw new FormatException("query must be a JSON object");
        }
        var filter = obj.Field("filter") is JsonObject f ? ParseFilter(f) : _ => true;
        var limit = 0;
        var offset = 0;
        if (obj.Field("page") is JsonObject page)
        {
            limit = page.Field("limit")?.GetValue<int>() ?? 0;
            if (limit < 0)
            {
                throw new FormatException("page.limit must not be negative");
            }
            var token = page.Field("token")?.GetValue<string>();
            if (!string.IsNullOrEmpty(token) && (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out offset)))
            {
                throw new FormatException("page.token is not a token this store issued");
            }
        }
        var query = new StateQuery(filter, limit, offset);
        if (obj.Field("sort") is JsonArray sorts)
        {
            foreach (var s in sorts.OfType<JsonObject>())
            {
                var key = s.Field("key")?.GetValue<string>() ?? throw new FormatException("sort entries need a key");
                var order = s.Field("order")?.GetValue<string>() ?? "ASC";
                if (order is not ("ASC" or "DESC"))
                {
                    throw new FormatException($"sort order '{order}' must be ASC or DESC");
                }
                query._sort.Add((key.Split('.'), order == "DESC"));
            }
        }
        return query;
    }

    private static Func<JsonElement, bool> ParseFilter(JsonObject node)
    {
        if (node.Count != 1)
        {
            throw new FormatException("a filter object must have exactly one operator");
        }
        var (op, arg) = node.First();
        switch (op)
        {
            case "AND" or "OR":
                var parts = (arg as JsonArray ?? throw new FormatException($"{op} takes an array of filters"))
                    .Select(p => ParseFilter(p as JsonObject ?? throw new FormatException($"{op} takes filter objects"))).ToList();
                if (parts.Count < 2)
                {
                    throw new FormatException($"{op} needs at least two filters");
                }
                return op == "AND" ? v => parts.All(p => p(v)) : v => parts.Any(p => p(v));
            case "EQ" or "NEQ" or "GT" or "GTE" or "LT" or "LTE" or "IN":
                var pair = (arg as JsonObject ?? throw new FormatException($"{op} takes an object of one key"));
                if (pair.Count != 1)
                {
                    throw new FormatException($"{op} takes exactly one key");
                }
                var (key, expected) = pair.First();
                var path = key.Split('.');
                if (op == "IN")
                {
                    var options = (expected as JsonArray ?? throw new FormatException("IN takes an array of values"))
                        .Select(o => JsonSerializer.SerializeToElement(o)).ToList();
                    return v => Resolve(v, path) is { } actual && options.Any(o => Compare(actual, o) == 0);
                }
                var want = JsonSerializer.SerializeToElement(expected);
                return op switch
                {
                    "EQ" => v => Resolve(v, path) is { } a && Compare(a, want) == 0,
                    "NEQ" => v => Resolve(v, path) is not { } a || Compare(a, want) != 0,
                    "GT" => v => Resolve(v, path) is { } a && Compare(a, want) is > 0 and not int.MaxValue,
                    "GTE" => v => Resolve(v, path) is { } a && Compare(a, want) is >= 0 and not int.MaxValue,
                    "LT" => v => Resolve(v, path) is { } a && Compare(a, want) < 0,
                    _ => v => Resolve(v, path) is { } a && Compare(a, want) <= 0,
                };
            default:
                throw new FormatException($"unknown filter operator '{op}'");
        }
    }

    public bool Matches(JsonElement value) => _filter(value);

    /// <summary>Filters, sorts and pages items whose values are JSON; non-JSON values never match.</summary>
    public (List<(string Key, StateItem Item)> Page, string? NextToken) Apply(IEnumerable<(string Key, StateItem Item)> items)
    {
        var matched = new List<(string Key, StateItem Item, JsonElement Value)>();
        foreach (var (key, item) in items)
        {
            JsonElement value;
            try
            {
                using var document = JsonDocument.Parse(item.Value);
                value = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                continue;
            }
            if (_filter(value))
            {
                matched.Add((key, item, value));
            }
        }
        IEnumerable<(string Key, StateItem Item, JsonElement Value)> ordered = matched.OrderBy(m => m.Key, StringComparer.Ordinal);
        if (_sort.Count > 0)
        {
            ordered = matched.Order(Comparer<(string Key, StateItem Item, JsonElement Value)>.Create((a, b) =>
            {
                foreach (var (path, descending) in _sort)
                {
                    var c = CompareNullable(Resolve(a.Value, path), Resolve(b.Value, path));
                    if (c != 0)
                    {
                        return descending ? -c : c;
                    }
                }
                return string.CompareOrdinal(a.Key, b.Key);
            }));
        }
        var page = ordered.Skip(Offset);
        if (Limit > 0)
        {
            page = page.Take(Limit);
        }
        var list = page.Select(m => (m.Key, m.Item)).ToList();
        var next = Limit > 0 && Offset + list.Count < matched.Count ? (Offset + list.Count).ToString(CultureInfo.InvariantCulture) : null;
        return (list, next);
    }

    private static JsonElement? Resolve(JsonElement value, string[] path)
    {
        var current = value;
        foreach (var segment in path)
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
            {
                return null;
            }
        }
        return current;
    }

    private static int CompareNullable(JsonElement? a, JsonElement? b) => (a, b) switch
    {
        (null, null) => 0,
        (null, _) => -1,
        (_, null) => 1,
        _ => Compare(a.Value, b.Value) is var c && c == int.MaxValue ? string.CompareOrdinal(a.Value.GetRawText(), b.Value.GetRawText()) : c,
    };

    /// <summary>Compares two JSON values; int.MaxValue means they are of kinds that do not compare.</summary>
    private static int Compare(JsonElement a, JsonElement b)
    {
        if (a.ValueKind == JsonValueKind.Number && b.ValueKind == JsonValueKind.Number)
        {
            return a.GetDouble().CompareTo(b.GetDouble());
        }
        if (a.ValueKind == JsonValueKind.String && b.ValueKind == JsonValueKind.String)
        {
            return Math.Sign(string.CompareOrdinal(a.GetString(), b.GetString()));
        }
        if (a.ValueKind is JsonValueKind.True or JsonValueKind.False && b.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return a.GetBoolean().CompareTo(b.GetBoolean());
        }
        if (a.ValueKind == JsonValueKind.Null && b.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        return a.ValueKind == b.ValueKind && a.GetRawText() == b.GetRawText() ? 0 : int.MaxValue;
    }
}
