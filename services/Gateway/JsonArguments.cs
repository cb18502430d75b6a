using System.Text.Json;

namespace AgenticFlow.Gateway;

/// <summary>Reads protocol arguments (A2A params, MCP tool arguments) the way JSON Schema types them.</summary>
public static class JsonArguments
{
    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>]: a JSON number with no fractional part,
    /// written <c>2</c>, <c>2.0</c> or <c>2e0</c> alike (JSON Schema's "integer"). Anything else, a fraction, a number out
    /// of range or beyond a double, or not a number at all, is false: the caller's error, never an exception.</summary>
    public static bool TryInteger(JsonElement value, int min, int max, out int result)
    {
        result = 0;
        if (value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }
        if (value.TryGetInt32(out var exact))
        {
            result = exact;
            return exact >= min && exact <= max;
        }
        if (!value.TryGetDouble(out var number) || !double.IsFinite(number) || number != Math.Floor(number) || number < min || number > max)
        {
            return false;
        }
        result = (int)number;
        return true;
    }
}
