using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Storage;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Monitoring.Apis;

/// <summary><c>/api/v1/logs</c>: services' log records, newest first.</summary>
public static class LogsApi
{
    public static RouteGroupBuilder MapLogsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/logs").WithTags("Logs").RequireObserver();
        api.MapGet("/", Find).WithName("FindLogs");
        return api;
    }

    public static IResult Find(LogStore store, TimeProvider time, string? service = null, string? level = null, string? traceId = null, string? q = null,
        string? from = null, string? to = null, int? limit = null)
    {
        var values = new QueryValues(time);
        var start = values.Instant("from", from);
        var end = values.Instant("to", to);
        var max = values.Limit("limit", limit, 100, 1000);
        if (level is not null && LogLevels.Rank(level) < 0)
        {
            values.Errors["level"] = ["One of " + string.Join(", ", LogLevels.All) + "."];
        }
        if (traceId is not null && (traceId.Length is not (16 or 32) || !traceId.All(Uri.IsHexDigit)))
        {
            values.Errors["traceId"] = ["A trace id is 16 or 32 hex digits."];
        }
        if (q is { Length: > 200 })
        {
            values.Errors["q"] = ["At most 200 characters."];
        }
        return values.Errors.Count > 0
            ? MonitoringProblems.Invalid(values.Errors)
            : TypedResults.Ok(store.Find(new LogQuery(service, level, traceId, q, start, end, max)));
    }
}
