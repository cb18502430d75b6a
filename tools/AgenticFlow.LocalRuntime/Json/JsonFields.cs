using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.LocalRuntime.Json;

/// <summary>
/// Reads the fields of JSON bodies the way daprd does. daprd decodes every HTTP body (and every answer an app gives
/// it: <c>/dapr/config</c>, <c>/dapr/subscribe</c>, delivery statuses) into Go structs with <c>encoding/json</c>,
/// which matches a member to a field when their names are equal ignoring case, so the JavaScript SDK's
/// <c>entryID</c> is the field <c>entryId</c>. When several members match one field the last one wins, as in Go.
/// Only field names fold: keys of maps (metadata) and the values themselves are taken as sent.
/// </summary>
public static class JsonFields
{
    /// <summary>The member of an object that stands for field <paramref name="name"/>; false when there is none
    /// (or <paramref name="element"/> is not an object).</summary>
    public static bool TryGetField(this JsonElement element, string name, out JsonElement value)
    {
        value = default;
        if (element.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        var found = false;
        foreach (var member in element.EnumerateObject())
        {
            if (string.Equals(member.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = member.Value;
                found = true;
            }
        }
        return found;
    }

    /// <summary>The string in field <paramref name="name"/>, or null when it is missing or not a string.</summary>
    public static string? StringField(this JsonElement element, string name) =>
        element.TryGetField(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The node in field <paramref name="name"/> of a parsed object (null when missing), matched as above.</summary>
    public static JsonNode? Field(this JsonObject node, string name)
    {
        JsonNode? found = null;
        foreach (var (key, value) in node)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                found = value;
            }
        }
        return found;
    }
}
