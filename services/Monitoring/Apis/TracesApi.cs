using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Storage;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Monitoring.Apis;

/// <summary><c>/api/v1/traces</c>: search recent traces, and one trace as a span tree with timings.</summary>
public static class TracesApi
{
    public static RouteGroupBuilder MapTracesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/traces").WithTags("Traces").RequireObserver();
        api.MapGet("/", Search).WithName("SearchTraces");
        api.MapGet("/{traceId}", Get).WithName("GetTrace");
        return api;
    }

    public static IResult Search(TraceStore store, TimeProvider time, string? service = null, double? minDurationMs = null, bool? error = null,
        string? from = null, string? to = null, int? limit = null)
    {
        var values = new QueryValues(time);
        var start = values.Instant("from", from);
        var end = values.Instant("to", to);
        var max = values.Limit("limit", limit, 50, 1000);
        if (minDurationMs is < 0 or > 86_400_000)
        {
            values.Errors["minDurationMs"] = ["Between 0 and 86400000."];
        }
        return values.Errors.Count > 0 ? MonitoringProblems.Invalid(values.Errors) : TypedResults.Ok(store.Search(service, minDurationMs, error, start, end, max));
    }

    public static IResult Get(string traceId, TraceStore store)
    {
        if (traceId.Length is not (16 or 32) || !traceId.All(Uri.IsHexDigit))
        {
            return MonitoringProblems.Invalid("traceId", "A trace id is 16 or 32 hex digits.");
        }
        var spans = store.Get(traceId.ToLowerInvariant());
        return spans is null ? MonitoringProblems.Missing("trace", traceId) : TypedResults.Ok(TraceTree.Build(traceId.ToLowerInvariant(), spans));
    }
}
