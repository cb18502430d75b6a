using System.Text.Json;
using AgenticFlow.Monitoring.Domain;

namespace AgenticFlow.Monitoring.Intake;

/// <summary>Reads Zipkin's v2 JSON span list (what daprd and OpenTelemetry's Zipkin exporter send to
/// <c>/api/v2/spans</c>). A span without traceId, id or name is the caller's mistake: it throws <see cref="FormatException"/>.</summary>
public static class ZipkinReader
{
    public static List<SpanRecord> Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("The body must be a JSON array of Zipkin v2 spans.");
        }
        var spans = new List<SpanRecord>();
        var index = 0;
        foreach (var span in body.EnumerateArray())
        {
            if (span.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"Span [{index}] must be an object.");
            }
            var traceId = Text(span, "traceId");
            var id = Text(span, "id");
            if (!IsHex(traceId, 16, 32) || !IsHex(id, 16, 16))
            {
                throw new FormatException($"Span [{index}] needs a traceId of 16 or 32 hex digits and an id of 16.");
            }
            var parent = Text(span, "parentId");
            if (parent is not null && (!IsHex(parent, 16, 16) || string.Equals(parent, id, StringComparison.OrdinalIgnoreCase)))
            {
                throw new FormatException($"Span [{index}] has a parentId that is not 16 hex digits or is its own id.");
            }
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            if (span.TryGetProperty("tags", out var t) && t.ValueKind == JsonValueKind.Object)
            {
                foreach (var tag in t.EnumerateObject())
                {
                    tags[tag.Name] = tag.Value.ValueKind == JsonValueKind.String ? tag.Value.GetString()! : tag.Value.GetRawText();
                }
            }
            var service = span.TryGetProperty("localEndpoint", out var endpoint) && endpoint.ValueKind == JsonValueKind.Object ? Text(endpoint, "serviceName") ?? "" : "";
            var start = Number(span, "timestamp");
            var duration = Number(span, "duration");
            var error = tags.ContainsKey("error") || (tags.TryGetValue("otel.status_code", out var status) && status == "ERROR");
            spans.Add(new SpanRecord(traceId!.ToLowerInvariant(), id!.ToLowerInvariant(), parent?.ToLowerInvariant(),
                Text(span, "name") ?? "", service, Text(span, "kind") ?? "INTERNAL",
                DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(start * 10), duration / 1000.0, error, tags));
            index++;
        }
        return spans;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0 ? n : 0;

    private static bool IsHex(string? text, int min, int max) =>
        text is not null && text.Length >= min && text.Length <= max && text.All(Uri.IsHexDigit);
}
