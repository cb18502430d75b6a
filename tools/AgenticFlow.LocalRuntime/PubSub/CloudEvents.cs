using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.LocalRuntime.Tracing;

namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>Builds the CloudEvents 1.0 envelopes daprd puts around published data.</summary>
public static class CloudEvents
{
    public const string ContentType = "application/cloudevents+json";
    public const string DefaultEventType = "com.dapr.event.sent";

    /// <summary>
    /// Wraps <paramref name="data"/> for a publish. Data already in CloudEvents form keeps its fields and gets the
    /// missing ones; JSON data goes in <c>data</c> as JSON, text as a string, anything else as <c>data_base64</c>.
    /// <c>cloudevent.*</c> metadata overrides envelope fields, as daprd allows. Data published with no content type
    /// is text, as in daprd (the JavaScript and Python SDKs can publish without one; the .NET SDK always names it).
    /// </summary>
    public static byte[] Wrap(string appId, string pubsubName, string topic, byte[] data, string? dataContentType, IReadOnlyDictionary<string, string> metadata)
    {
        JsonObject envelope;
        var isCloudEvent = dataContentType?.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase) == true;
        if (isCloudEvent)
        {
            envelope = JsonNode.Parse(data) as JsonObject ?? throw new FormatException("a CloudEvent must be a JSON object");
        }
        else
        {
            envelope = new JsonObject();
            var contentType = string.IsNullOrEmpty(dataContentType) ? "text/plain" : dataContentType;
            envelope["datacontenttype"] = contentType;
            if (IsJson(contentType))
            {
                try
                {
                    envelope["data"] = data.Length == 0 ? null : JsonNode.Parse(data);
                }
                catch (JsonException ex)
                {
                    throw new FormatException($"data is declared {contentType} but is not valid JSON: {ex.Message}");
                }
            }
            else if (contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || contentType.Contains("xml", StringComparison.OrdinalIgnoreCase))
            {
                envelope["data"] = Encoding.UTF8.GetString(data);
            }
            else
            {
                envelope["data_base64"] = Convert.ToBase64String(data);
            }
        }

        // The publish call's span: subscribers' deliveries hang beneath it. A publish with no trace context (tracing off
        // and a caller that sent none, or a publish made off any request) carries none, as with daprd: each subscriber's
        // sidecar then starts its own trace at its own sampling rate.
        var trace = SidecarTracer.Current;
        SetIfMissing(envelope, "specversion", "1.0");
        SetIfMissing(envelope, "id", Guid.NewGuid().ToString());
        SetIfMissing(envelope, "source", appId);
        SetIfMissing(envelope, "type", DefaultEventType);
        SetIfMissing(envelope, "time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture));
        envelope["topic"] = topic;
        envelope["pubsubname"] = pubsubName;
        if (trace is { } context)
        {
            envelope["traceparent"] = context.Traceparent;
            envelope["traceid"] = context.Traceparent;
            if (!string.IsNullOrEmpty(context.TraceState))
            {
                envelope["tracestate"] = context.TraceState;
            }
        }
        foreach (var (key, value) in metadata)
        {
            if (key.StartsWith("cloudevent.", StringComparison.OrdinalIgnoreCase)
                && Overridable.FirstOrDefault(f => f.Equals(key[11..], StringComparison.OrdinalIgnoreCase)) is { } field)
            {
                envelope[field] = value;
                if (field == "traceparent")
                {
                    envelope["traceid"] = value;
                }
            }
        }
        return JsonSerializer.SerializeToUtf8Bytes(envelope);
    }

    /// <summary>The envelope fields <c>cloudevent.*</c> metadata may set. daprd decodes that metadata into a struct
    /// of these (ignoring case, as mapstructure does) and drops any other key; a traceparent is also the traceid.</summary>
    private static readonly string[] Overridable = ["id", "source", "type", "subject", "traceid", "traceparent", "tracestate"];

    /// <summary>A raw payload seen by a subscriber that did not ask for raw payloads: daprd wraps it, base64.</summary>
    public static byte[] WrapRaw(string source, string pubsubName, string topic, BrokerMessage message)
    {
        var envelope = new JsonObject
        {
            ["specversion"] = "1.0",
            ["id"] = message.Id,
            ["source"] = source,
            ["type"] = DefaultEventType,
            ["topic"] = topic,
            ["pubsubname"] = pubsubName,
            ["datacontenttype"] = "application/octet-stream",
            ["data_base64"] = Convert.ToBase64String(message.Data),
        };
        return JsonSerializer.SerializeToUtf8Bytes(envelope);
    }

    public static bool IsJsonType(string? contentType) => contentType is not null && IsJson(contentType);

    public static bool IsJson(string contentType)
    {
        var media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static void SetIfMissing(JsonObject envelope, string key, string value)
    {
        if (envelope[key] is null)
        {
            envelope[key] = value;
        }
    }
}
