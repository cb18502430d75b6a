using System.Text.Json;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Monitoring.Apis;

public sealed record MetricPointInput(string? Name, string? Service, Dictionary<string, string>? Tags, string? Kind, double? Value, DateTimeOffset? Time);

public sealed record MetricsWriteRequest(List<MetricPointInput>? Points);

/// <summary>One series of a query: per service, or (with <c>groupBy</c>) per combination of the grouped attributes'
/// values in <see cref="Labels"/> (<see cref="Service"/> then only when <c>service</c> is one of them).</summary>
public sealed record SeriesView(string? Service, IReadOnlyList<SeriesValue> Points, IReadOnlyDictionary<string, string>? Labels = null);

public sealed record MetricsQueryResult(string Name, string Aggregation, DateTimeOffset From, DateTimeOffset To, double StepSeconds, IReadOnlyList<SeriesView> Series, IReadOnlyList<string>? GroupBy = null);

public sealed record MetricsList(string Store, IReadOnlyList<MetricDescriptor> Metrics);

/// <summary><c>/api/v1/metrics</c>: what exists, one metric's series, Prometheus text, and points written by clients.</summary>
public static class MetricsApi
{
    public const int MaxSteps = 2000;
    public const int MaxPointsPerWrite = 5000;
    public const int MaxGroupBy = 5;
    public const int MaxTagFilters = 20;

    /// <summary>Names the services' own instrumentation writes: clients may not write points under them, so a chart
    /// or an alert on a service's requests counts only what the service measured.</summary>
    public static readonly string[] ReservedPrefixes = ["http.", "aspnetcore.", "kestrel.", "dotnet.", "process.", "system.", "signalr.", "agenticflow.", "gen_ai.", "rpc.", "db."];

    public static RouteGroupBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/metrics").WithTags("Metrics").RequirePlatformRole();
        api.MapGet("/", Query).WithName("QueryMetrics");
        api.MapPost("/", Write).WithName("WriteMetrics");
        return api;
    }

    /// <summary>Without <c>name</c>: the metrics that exist. With it: one value per step and service, or per
    /// combination of the <c>groupBy</c> attributes' values (comma-separated: <c>service</c> or attribute keys), over the
    /// points every <c>tag=key=value</c> filter matches. With <c>Accept: text/plain</c>: the newest sample of each
    /// series in Prometheus' text format.</summary>
    public static async Task<IResult> Query(
        HttpRequest request, MetricQueries queries, ITimeSeriesStore store, TimeProvider time, CancellationToken ct,
        string? name = null, string? service = null, string? from = null, string? to = null, string? step = null, string? agg = null, string[]? tag = null,
        string? groupBy = null)
    {
        var values = new QueryValues(time);
        var end = values.Instant("to", to) ?? time.GetUtcNow();
        var start = values.Instant("from", from) ?? end - TimeSpan.FromMinutes(15);
        var stepSpan = values.Duration("step", step) ?? TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling((end - start).TotalSeconds / 60)));
        var aggregation = agg ?? "avg";
        if (!Aggregations.IsKnown(aggregation))
        {
            values.Errors["agg"] = ["Must be one of " + string.Join(", ", Aggregations.All) + "."];
        }
        if (start >= end)
        {
            values.Errors["from"] = ["Must be before 'to'."];
        }
        else if ((end - start) / stepSpan > MaxSteps)
        {
            values.Errors["step"] = [$"At most {MaxSteps} steps per query: use a longer step or a shorter range."];
        }
        var filter = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in tag ?? [])
        {
            var at = t.IndexOf('=');
            if (at <= 0 || t.Length > 300)
            {
                values.Errors["tag"] = ["Each tag filter is key=value."];
                break;
            }
            filter[t[..at]] = t[(at + 1)..];
        }
        if (tag is { Length: > MaxTagFilters })
        {
            values.Errors["tag"] = [$"At most {MaxTagFilters} tag filters."];
        }
        if (name is { Length: > 200 })
        {
            values.Errors["name"] = ["At most 200 characters."];
        }
        var grouping = GroupKeys(groupBy ?? (request.Query.ContainsKey("groupBy") ? "" : null), values.Errors);
        var wantsText = request.Headers.Accept.ToString().Contains("text/plain", StringComparison.OrdinalIgnoreCase);
        if (grouping is not null && name is null)
        {
            values.Errors["groupBy"] = ["Groups a metric's series: name the metric."];
        }
        else if (grouping is not null && wantsText)
        {
            values.Errors["groupBy"] = ["The Prometheus text answer lists every series as it is: ask for JSON to group."];
        }
        if (values.Errors.Count > 0)
        {
            return MonitoringProblems.Invalid(values.Errors);
        }
        if (wantsText)
        {
            var names = name is null ? (await store.ListAsync(ct)).Select(d => d.Name).ToList() : [name];
            var points = new List<MetricPoint>();
            foreach (var metric in names)
            {
                points.AddRange(await store.ReadAsync(metric, service, start, end, ct));
            }
            return TypedResults.Text(PrometheusText.Write(points), "text/plain; version=0.0.4; charset=utf-8");
        }
        if (name is null)
        {
            var list = await store.ListAsync(ct);
            return TypedResults.Ok(new MetricsList(store.Kind, service is null ? list : list.Where(d => d.Services.Contains(service)).ToList()));
        }
        if (service is not null)
        {
            filter["service"] = service;
        }
        if (grouping is not null)
        {
            var groups = await queries.GroupedSeriesAsync(name, filter, grouping, start, end, stepSpan, aggregation, ct);
            return TypedResults.Ok(new MetricsQueryResult(name, aggregation, start, end, stepSpan.TotalSeconds,
                groups.Select(g => new SeriesView(g.Labels.GetValueOrDefault("service"), g.Points, g.Labels)).ToList(), grouping));
        }
        var series = await queries.SeriesAsync(name, filter, start, end, stepSpan, aggregation, ct);
        return TypedResults.Ok(new MetricsQueryResult(name, aggregation, start, end, stepSpan.TotalSeconds, series.Select(s => new SeriesView(s.Service, s.Points)).ToList()));
    }

    /// <summary><c>groupBy</c>: 1 to <see cref="MaxGroupBy"/> distinct attribute keys, comma-separated, each 1-100
    /// characters without control characters; null when absent.</summary>
    public static IReadOnlyList<string>? GroupKeys(string? groupBy, Dictionary<string, string[]> errors)
    {
        if (groupBy is null)
        {
            return null;
        }
        var keys = groupBy.Split(',', StringSplitOptions.TrimEntries);
        if (keys.Length is 0 or > MaxGroupBy || keys.Any(k => k.Length is 0 or > 100 || k.Any(char.IsControl)) || keys.Distinct(StringComparer.Ordinal).Count() != keys.Length)
        {
            errors["groupBy"] = [$"1 to {MaxGroupBy} distinct attribute keys (service or a tag key), comma-separated, each 1-100 characters."];
            return null;
        }
        return keys;
    }

    /// <summary>Points a client measured itself (an agent's own gauges and counters); stored before the answer.</summary>
    public static async Task<IResult> Write(HttpRequest request, [FromBody] MetricsWriteRequest body, ITimeSeriesStore store, TimeProvider time, CancellationToken ct)
    {
        if (MonitoringProblems.RequireSender(request) is { } refused)
        {
            return refused;
        }
        var errors = new Dictionary<string, string[]>();
        if (body?.Points is not { Count: > 0 } inputs || inputs.Count > MaxPointsPerWrite)
        {
            return MonitoringProblems.Invalid("points", $"Send between 1 and {MaxPointsPerWrite} points.");
        }
        var now = time.GetUtcNow();
        var caller = CallerIdentity.From(request);
        var points = new List<MetricPoint>(inputs.Count);
        for (var i = 0; i < inputs.Count; i++)
        {
            var p = inputs[i];
            if (p is null)
            {
                errors[$"points[{i}]"] = ["Must be an object."];
                continue;
            }
            if (string.IsNullOrWhiteSpace(p.Name) || p.Name.Length > 200 || p.Name.Any(char.IsControl))
            {
                errors[$"points[{i}].name"] = ["Required, at most 200 characters."];
            }
            if (p.Value is not { } v || !double.IsFinite(v))
            {
                errors[$"points[{i}].value"] = ["Required, a finite number."];
            }
            MetricKind kind = MetricKind.Gauge;
            if (p.Kind is not null && (!Enum.TryParse(p.Kind, ignoreCase: true, out kind) || kind == MetricKind.Histogram || !Enum.IsDefined(kind)))
            {
                errors[$"points[{i}].kind"] = ["gauge or counter."];
            }
            if (p.Tags is { } tags && (tags.Count > 20 || tags.Any(t => t.Key.Length is 0 or > 100 || t.Value is null || t.Value.Length > 200)))
            {
                errors[$"points[{i}].tags"] = ["At most 20 tags, keys 1-100 and values up to 200 characters."];
            }
            if (p.Time is { } at && (at > now + TimeSpan.FromMinutes(5) || at < now - TimeSpan.FromDays(7)))
            {
                errors[$"points[{i}].time"] = ["Within the last 7 days and not in the future."];
            }
            if (p.Service is { Length: > 100 })
            {
                errors[$"points[{i}].service"] = ["At most 100 characters."];
            }
            else if (p.Service is not null && caller.FromEdge && !caller.Privileged && p.Service != caller.AgentId)
            {
                errors[$"points[{i}].service"] = ["An agent writes points only under its own id."];
            }
            if (p.Name is not null && caller.FromEdge && ReservedPrefixes.Any(r => p.Name.StartsWith(r, StringComparison.OrdinalIgnoreCase)))
            {
                errors[$"points[{i}].name"] = ["Names under " + string.Join(", ", ReservedPrefixes) + " belong to the services' own instrumentation."];
            }
            if (errors.Count == 0)
            {
                // An edge caller writes under its own name unless it names a service (operators label their scripts).
                var service = p.Service ?? caller.AgentId ?? caller.Principal ?? "unknown";
                points.Add(new MetricPoint(p.Name!, service, p.Tags ?? [], p.Time ?? now, kind, p.Value!.Value));
            }
        }
        if (errors.Count > 0)
        {
            return MonitoringProblems.Invalid(errors);
        }
        try
        {
            await store.WriteAsync(points, ct);
        }
        catch (SeriesLimitException ex)
        {
            return MonitoringProblems.TooManySeries(ex.Message);
        }
        return TypedResults.Accepted((string?)null, new { accepted = points.Count });
    }
}
