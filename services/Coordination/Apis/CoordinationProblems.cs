using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgenticFlow.Coordination.Apis;

/// <summary>The problem types coordination answers with: one stable <c>type</c> per kind of problem.</summary>
public static class CoordinationProblems
{
    public const string Validation = Problems.Base + "validation";
    public const string NotFound = Problems.Base + "not-found";
    public const string Forbidden = Problems.Base + "forbidden";
    public const string FormationFailed = Problems.Base + "team-formation-failed";
    public const string TeamClosed = Problems.Base + "team-closed";
    public const string AgentUnavailable = Problems.Base + "agent-unavailable";
    public const string AgentTaken = Problems.Base + "agent-in-another-team";
    public const string NotAssignee = Problems.Base + "task-not-assigned-to-agent";
    public const string AlreadyVoted = Problems.Base + "already-voted";
    public const string RoundClosed = Problems.Base + "round-closed";
    public const string NotAVoter = Problems.Base + "not-a-voter";

    public static ValidationProblem Invalid(IDictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors, type: Validation);

    public static ValidationProblem Invalid(string field, string message) => Invalid(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Missing(string detail) => Problem(StatusCodes.Status404NotFound, NotFound, "Not found", detail);

    public static ProblemHttpResult Refused(string detail) => Problem(StatusCodes.Status403Forbidden, Forbidden, "Forbidden", detail);

    public static ProblemHttpResult Conflict(string type, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        Problem(StatusCodes.Status409Conflict, type, title, detail, extensions);

    public static ProblemHttpResult Problem(int status, string type, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status, type: type, extensions: extensions);

    /// <summary>Readers: anyone the gateway let in with a role, and other services.</summary>
    public static bool MayRead(CallerIdentity caller) =>
        !caller.FromEdge || caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent, CallerIdentity.Viewer]);
}
