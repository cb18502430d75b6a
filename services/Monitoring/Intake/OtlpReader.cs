using System.Globalization;
using AgenticFlow.Monitoring.Domain;
using Google.Protobuf;

namespace AgenticFlow.Monitoring.Intake;

/// <summary>
/// Reads the OTLP/HTTP protobuf bodies (<c>/v1/metrics</c>, <c>/v1/traces</c>, <c>/v1/logs</c>) field by field with
/// <see cref="CodedInputStream"/>, following opentelemetry-proto's field numbers; fields it does not use are skipped,
/// so newer senders stay readable. A body that is not valid protobuf throws <see cref="InvalidProtocolBufferException"/>.
/// </summary>
public static class OtlpReader
{
    private const int Cumulative = 2;

    public static List<MetricPoint> ReadMetrics(byte[] body)
    {
        var points = new List<MetricPoint>();
        // ExportMetricsServiceRequest.resource_metrics = 1
        foreach (var resourceMetrics in Messages(body, 1))
        {
            var service = "";
            var scopes = new List<ByteString>();
            Fields(resourceMetrics.Span, (field, wire, input) =>
            {
                switch (field)
                {
                    case 1: service = ServiceName(input.ReadBytes()); return true; // resource
                    case 2: scopes.Add(input.ReadBytes()); return true;           // scope_metrics
                    default: return false;
                }
            });
            foreach (var scope in scopes)
            {
                foreach (var metric in Messages(scope.Span, 2)) // ScopeMetrics.metrics = 2
                {
                    ReadMetric(metric.Span, service, points);
                }
            }
        }
        return points;
    }

    private static void ReadMetric(ReadOnlySpan<byte> metric, string service, List<MetricPoint> points)
    {
        var name = "";
        ByteString? data = null;
        var dataField = 0;
        Fields(metric, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: name = input.ReadString(); return true;
                case 5 or 7 or 9: dataField = field; data = input.ReadBytes(); return true; // gauge, sum, histogram
                default: return false;
            }
        });
        if (data is null || name.Length == 0)
        {
            return;
        }
        var temporality = Cumulative;
        var monotonic = false;
        var dataPoints = new List<ByteString>();
        Fields(data.Span, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: dataPoints.Add(input.ReadBytes()); return true;
                case 2: temporality = input.ReadEnum(); return true;
                case 3 when dataField == 7: monotonic = input.ReadBool(); return true;
                default: return false;
            }
        });
        foreach (var dp in dataPoints)
        {
            var point = dataField == 9 ? ReadHistogramPoint(dp.Span, name, service) : ReadNumberPoint(dp.Span, name, service,
                dataField == 7 && monotonic && temporality == Cumulative ? MetricKind.Counter : MetricKind.Gauge);
            points.Add(point);
        }
    }

    private static MetricPoint ReadNumberPoint(ReadOnlySpan<byte> dp, string name, string service, MetricKind kind)
    {
        ulong time = 0, began = 0;
        double value = 0;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        Fields(dp, (field, wire, input) =>
        {
            switch (field)
            {
                case 2: began = input.ReadFixed64(); return true;
                case 3: time = input.ReadFixed64(); return true;
                case 4: value = input.ReadDouble(); return true;
                case 6: value = input.ReadSFixed64(); return true;
                case 7: ReadAttribute(input.ReadBytes().Span, tags); return true;
                default: return false;
            }
        });
        return new MetricPoint(name, service, tags, FromNanos(time), kind, value, Start: began > 0 && kind == MetricKind.Counter ? FromNanos(began) : null);
    }

    private static MetricPoint ReadHistogramPoint(ReadOnlySpan<byte> dp, string name, string service)
    {
        ulong time = 0, count = 0, began = 0;
        double sum = 0;
        var buckets = new List<long>();
        var bounds = new List<double>();
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        Fields(dp, (field, wire, input) =>
        {
            switch (field)
            {
                case 2: began = input.ReadFixed64(); return true;
                case 3: time = input.ReadFixed64(); return true;
                case 4: count = input.ReadFixed64(); return true;
                case 5: sum = input.ReadDouble(); return true;
                case 6: RepeatedFixed64(input, wire, buckets); return true;
                case 7: RepeatedDouble(input, wire, bounds); return true;
                case 9: ReadAttribute(input.ReadBytes().Span, tags); return true;
                default: return false;
            }
        });
        return new MetricPoint(name, service, tags, FromNanos(time), MetricKind.Histogram, count, sum, bounds.ToArray(), buckets.ToArray(), began > 0 ? FromNanos(began) : null);
    }

    public static List<SpanRecord> ReadTraces(byte[] body)
    {
        var spans = new List<SpanRecord>();
        foreach (var resourceSpans in Messages(body, 1))
        {
            var service = "";
            var scopes = new List<ByteString>();
            Fields(resourceSpans.Span, (field, wire, input) =>
            {
                switch (field)
                {
                    case 1: service = ServiceName(input.ReadBytes()); return true;
                    case 2: scopes.Add(input.ReadBytes()); return true;
                    default: return false;
                }
            });
            foreach (var scope in scopes)
            {
                foreach (var span in Messages(scope.Span, 2)) // ScopeSpans.spans = 2
                {
                    spans.Add(ReadSpan(span.Span, service));
                }
            }
        }
        return spans;
    }

    private static SpanRecord ReadSpan(ReadOnlySpan<byte> span, string service)
    {
        string traceId = "", spanId = "", name = "";
        string? parentId = null;
        var kind = 0;
        ulong start = 0, end = 0;
        var statusCode = 0;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        Fields(span, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: traceId = Hex(input.ReadBytes()); return true;
                case 2: spanId = Hex(input.ReadBytes()); return true;
                case 4: var p = input.ReadBytes(); parentId = p.Length == 0 ? null : Hex(p); return true;
                case 5: name = input.ReadString(); return true;
                case 6: kind = input.ReadEnum(); return true;
                case 7: start = input.ReadFixed64(); return true;
                case 8: end = input.ReadFixed64(); return true;
                case 9: ReadAttribute(input.ReadBytes().Span, tags); return true;
                case 15: statusCode = ReadStatus(input.ReadBytes().Span); return true;
                default: return false;
            }
        });
        if (parentId == spanId)
        {
            parentId = null; // A span cannot be its own parent; kept as a root rather than hiding its trace.
        }
        var kindName = kind switch { 2 => "SERVER", 3 => "CLIENT", 4 => "PRODUCER", 5 => "CONSUMER", _ => "INTERNAL" };
        var error = statusCode == 2 || (tags.TryGetValue("http.response.status_code", out var status) && status.StartsWith('5'));
        return new SpanRecord(traceId, spanId, parentId, name, service, kindName, FromNanos(start),
            end >= start ? (end - start) / 1_000_000.0 : 0, error, tags);
    }

    private static int ReadStatus(ReadOnlySpan<byte> status)
    {
        var code = 0;
        Fields(status, (field, wire, input) =>
        {
            if (field == 3)
            {
                code = input.ReadEnum();
                return true;
            }
            return false;
        });
        return code;
    }

    public static List<LogEntry> ReadLogs(byte[] body)
    {
        var logs = new List<LogEntry>();
        foreach (var resourceLogs in Messages(body, 1))
        {
            var service = "";
            var scopes = new List<ByteString>();
            Fields(resourceLogs.Span, (field, wire, input) =>
            {
                switch (field)
                {
                    case 1: service = ServiceName(input.ReadBytes()); return true;
                    case 2: scopes.Add(input.ReadBytes()); return true;
                    default: return false;
                }
            });
            foreach (var scope in scopes)
            {
                var category = "";
                var records = new List<ByteString>();
                Fields(scope.Span, (field, wire, input) =>
                {
                    switch (field)
                    {
                        case 1: category = ScopeName(input.ReadBytes().Span); return true;
                        case 2: records.Add(input.ReadBytes()); return true;
                        default: return false;
                    }
                });
                foreach (var record in records)
                {
                    logs.Add(ReadLog(record.Span, service, category));
                }
            }
        }
        return logs;
    }

    private static LogEntry ReadLog(ReadOnlySpan<byte> record, string service, string scopeName)
    {
        ulong time = 0, observed = 0;
        var severity = 0;
        string? severityText = null, traceId = null, spanId = null;
        var message = "";
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        Fields(record, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: time = input.ReadFixed64(); return true;
                case 2: severity = input.ReadEnum(); return true;
                case 3: severityText = input.ReadString(); return true;
                case 5: message = AnyValue(input.ReadBytes().Span); return true;
                case 6: ReadAttribute(input.ReadBytes().Span, attributes); return true;
                case 9: var t = input.ReadBytes(); traceId = t.Length == 0 ? null : Hex(t); return true;
                case 10: var s = input.ReadBytes(); spanId = s.Length == 0 ? null : Hex(s); return true;
                case 11: observed = input.ReadFixed64(); return true;
                default: return false;
            }
        });
        var level = severity > 0 ? LogLevels.FromSeverity(severity) : LogLevels.Rank(severityText ?? "") >= 0 ? LogLevels.All[LogLevels.Rank(severityText!)] : "Information";
        // The .NET exporter sends the template as the body and the formatted text as an attribute when asked to.
        if (attributes.Remove("{OriginalFormat}", out var template) && message.Length == 0)
        {
            message = template;
        }
        var category = attributes.Remove("category", out var c) ? c : scopeName;
        return new LogEntry(FromNanos(time != 0 ? time : observed), service, level, message, category.Length > 0 ? category : null, traceId, spanId, attributes);
    }

    private static string ServiceName(ByteString resource)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        Fields(resource.Span, (field, wire, input) =>
        {
            if (field == 1)
            {
                ReadAttribute(input.ReadBytes().Span, attributes);
                return true;
            }
            return false;
        });
        return attributes.GetValueOrDefault("service.name") ?? "";
    }

    private static string ScopeName(ReadOnlySpan<byte> scope)
    {
        var name = "";
        Fields(scope, (field, wire, input) =>
        {
            if (field == 1)
            {
                name = input.ReadString();
                return true;
            }
            return false;
        });
        return name;
    }

    /// <summary>KeyValue { key = 1; AnyValue value = 2 }.</summary>
    private static void ReadAttribute(ReadOnlySpan<byte> keyValue, Dictionary<string, string> into)
    {
        var key = "";
        var value = "";
        Fields(keyValue, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: key = input.ReadString(); return true;
                case 2: value = AnyValue(input.ReadBytes().Span); return true;
                default: return false;
            }
        });
        if (key.Length > 0)
        {
            into[key] = value;
        }
    }

    /// <summary>AnyValue as text: string 1, bool 2, int 3, double 4; arrays, maps and bytes are left out.</summary>
    private static string AnyValue(ReadOnlySpan<byte> any)
    {
        var text = "";
        Fields(any, (field, wire, input) =>
        {
            switch (field)
            {
                case 1: text = input.ReadString(); return true;
                case 2: text = input.ReadBool() ? "true" : "false"; return true;
                case 3: text = input.ReadInt64().ToString(CultureInfo.InvariantCulture); return true;
                case 4: text = input.ReadDouble().ToString("R", CultureInfo.InvariantCulture); return true;
                default: return false;
            }
        });
        return text;
    }

    private static List<ByteString> Messages(ReadOnlySpan<byte> message, int wanted)
    {
        var found = new List<ByteString>();
        Fields(message, (field, wire, input) =>
        {
            if (field == wanted)
            {
                found.Add(input.ReadBytes());
                return true;
            }
            return false;
        });
        return found;
    }

    /// <summary>Calls <paramref name="read"/> for each field; when it returns false (a field it does not read) the field is skipped.</summary>
    private static void Fields(ReadOnlySpan<byte> message, Func<int, WireFormat.WireType, CodedInputStream, bool> read)
    {
        var input = new CodedInputStream(message.ToArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (!read(WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag), input))
            {
                input.SkipLastField();
            }
        }
    }

    /// <summary>A repeated fixed64 field, packed (one length-delimited run) or not (the value right after its tag).</summary>
    private static void RepeatedFixed64(CodedInputStream input, WireFormat.WireType wire, List<long> into)
    {
        if (wire == WireFormat.WireType.LengthDelimited)
        {
            var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
            while (!packed.IsAtEnd)
            {
                into.Add((long)packed.ReadFixed64());
            }
            return;
        }
        into.Add((long)input.ReadFixed64());
    }

    private static void RepeatedDouble(CodedInputStream input, WireFormat.WireType wire, List<double> into)
    {
        if (wire == WireFormat.WireType.LengthDelimited)
        {
            var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
            while (!packed.IsAtEnd)
            {
                into.Add(packed.ReadDouble());
            }
            return;
        }
        into.Add(input.ReadDouble());
    }

    private static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    private static DateTimeOffset FromNanos(ulong nanos) =>
        DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(nanos / 100));
}
