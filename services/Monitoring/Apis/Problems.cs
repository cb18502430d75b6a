using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Monitoring.Apis;

/// <summary>The monitoring service's problem answers, with stable types.</summary>
public static class MonitoringProblems
{
    public const string Validation = Problems.Base + "validation";
    public const string NotFound = Problems.Base + "not-found";
    public const string Forbidden = Problems.Base + "forbidden";

    public static IResult Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid request", type: Validation);

    public static IResult Invalid(string field, string message) => Invalid(new Dictionary<string, string[]> { [field] = [message] });

    public const string SeriesLimit = Problems.Base + "series-limit";

    public static IResult TooManySeries(string detail) =>
        TypedResults.Problem(title: "Too many series", detail: detail, statusCode: StatusCodes.Status429TooManyRequests, type: SeriesLimit);

    public static IResult Missing(string what, string id) =>
        TypedResults.Problem(title: "Not found", detail: $"No {what} '{id}'.", statusCode: StatusCodes.Status404NotFound, type: NotFound);

    public static IResult Forbid(string detail) =>
        TypedResults.Problem(title: "Forbidden", detail: detail, statusCode: StatusCodes.Status403Forbidden, type: Forbidden);

    /// <summary>Alert rules and metric writes change what others see: operators and admins (or another service) only.</summary>
    public static IResult? RequireOperator(HttpRequest request)
    {
        var caller = CallerIdentity.From(request);
        return caller.FromEdge && !caller.Roles.Contains(CallerIdentity.Admin) && !caller.Roles.Contains(CallerIdentity.Operator)
            ? Forbid("Only operators and admins may change alert rules.")
            : null;
    }

    /// <summary>Writers of metric points: any role but viewer.</summary>
    public static IResult? RequireSender(HttpRequest request)
    {
        var caller = CallerIdentity.From(request);
        return caller.FromEdge && !caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent])
            ? Forbid("Viewers may read metrics, not write them.")
            : null;
    }
}
