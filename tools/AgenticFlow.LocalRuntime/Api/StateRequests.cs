using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.State;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>Turns the JSON state items of the HTTP API into <see cref="StateOperation"/>s, refusing malformed ones.</summary>
public static class StateRequests
{
    public static void CheckKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw DaprError.Malformed("state key must not be empty");
        }
        if (key.Contains(StateComponent.Separator, StringComparison.Ordinal))
        {
            throw DaprError.Malformed($"input key/keyPrefix '{key}' can't contain '{StateComponent.Separator}'");
        }
    }

    public static Concurrency ParseConcurrency(string? value) => value switch
    {
        null or "" or "last-write" => Concurrency.LastWrite,
        "first-write" => Concurrency.FirstWrite,
        _ => throw DaprError.Malformed($"concurrency '{value}' must be first-write or last-write"),
    };

    public static void CheckConsistency(string? value)
    {
        if (value is not (null or "" or "eventual" or "strong"))
        {
            throw DaprError.Malformed($"consistency '{value}' must be eventual or strong");
        }
    }

    public static int? ParseTtl(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue("ttlInSeconds", out var text))
        {
            return null;
        }
        return int.TryParse(text, out var ttl) && ttl >= -1
            ? ttl
            : throw DaprError.Malformed($"ttlInSeconds '{text}' must be a whole number of seconds, or -1 for none");
    }

    /// <summary>One item of <c>POST /v1.0/state/{store}</c> or the request of a transaction operation.</summary>
    public static StateOperation ReadItem(JsonElement item, StateOperationKind kind)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw DaprError.Malformed("each state item must be a JSON object");
        }
        var key = item.StringField("key");
        CheckKey(key);
        string? etag = null;
        if (item.TryGetField("etag", out var e) && e.ValueKind != JsonValueKind.Null)
        {
            etag = e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText();
        }
        var concurrency = Concurrency.LastWrite;
        if (item.TryGetField("options", out var options) && options.ValueKind == JsonValueKind.Object)
        {
            concurrency = ParseConcurrency(options.StringField("concurrency"));
            CheckConsistency(options.StringField("consistency"));
        }
        Dictionary<string, string>? metadata = null;
        if (item.TryGetField("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            metadata = meta.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText());
        }
        byte[]? value = null;
        if (kind == StateOperationKind.Upsert)
        {
            value = item.TryGetField("value", out var v) ? Encoding.UTF8.GetBytes(v.GetRawText()) : "null"u8.ToArray();
        }
        return new StateOperation(kind, key!, value, etag, concurrency, ParseTtl(metadata));
    }

    /// <summary>JSON data stays JSON in bulk and query answers; anything else is returned as a string.</summary>
    public static object? AsJsonOrString(byte[] data)
    {
        if (data.Length == 0)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(data);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(data);
        }
    }
}
