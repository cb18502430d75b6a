using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgenticFlow.Workflows.Apis;

/// <summary>The problem types the workflows service answers with: one stable <c>type</c> per kind of problem.</summary>
public static class WorkflowProblems
{
    public const string Validation = Problems.Base + "validation";
    public const string InvalidDefinition = Problems.Base + "invalid-workflow-definition";
    public const string InvalidInput = Problems.Base + "invalid-workflow-input";
    public const string NotFound = Problems.Base + "not-found";
    public const string Forbidden = Problems.Base + "forbidden";
    public const string Exists = Problems.Base + "workflow-exists";
    public const string RunEnded = Problems.Base + "run-ended";

    public static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, type: Validation);

    /// <summary>400 listing every problem: <c>errors</c> keyed by JSON pointer, and <c>problems</c> in order.</summary>
    public static ProblemHttpResult Listed(string type, string title, IReadOnlyList<DefinitionProblem> problems) =>
        TypedResults.Problem(title: title, detail: $"{problems.Count} problem(s); each is listed with its JSON pointer.", statusCode: StatusCodes.Status400BadRequest,
            type: type, extensions: new Dictionary<string, object?>
            {
                ["errors"] = problems.GroupBy(p => p.Pointer).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
                ["problems"] = problems.Select(p => new { pointer = p.Pointer, message = p.Message }).ToArray(),
            });

    public static ProblemHttpResult Missing(string detail) => Problem(StatusCodes.Status404NotFound, NotFound, "Not found", detail);

    public static ProblemHttpResult Refused(string detail) => Problem(StatusCodes.Status403Forbidden, Forbidden, "Forbidden", detail);

    public static ProblemHttpResult Conflict(string type, string title, string detail) => Problem(StatusCodes.Status409Conflict, type, title, detail);

    public static ProblemHttpResult Problem(int status, string type, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status, type: type);

    /// <summary>Definitions and runs are changed by admins, operators and other services.</summary>
    public static bool MayOperate(CallerIdentity caller) => caller.Privileged;

    public static bool MayRead(CallerIdentity caller) =>
        !caller.FromEdge || caller.Roles.Overlaps([CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent, CallerIdentity.Viewer]);
}
