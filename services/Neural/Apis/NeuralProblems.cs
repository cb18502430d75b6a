using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Neural.Apis;

/// <summary>The service's problem answers, each with a stable type.</summary>
public static class NeuralProblems
{
    public const string ProblemBase = Problems.Base;
    public const string TaskMismatch = "task-mismatch", JobFinished = "job-finished", DeployRefused = "deploy-refused", NotDeployed = "not-deployed", TooFewTasks = "too-few-tasks";

    public static IResult Invalid(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");

    public static IResult Missing(string detail) =>
        TypedResults.Problem(title: "Not found", detail: detail, statusCode: StatusCodes.Status404NotFound, type: ProblemBase + "not-found");

    public static IResult Conflict(string type, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status409Conflict, type: ProblemBase + type);

    public static IResult Forbidden(string detail) =>
        TypedResults.Problem(title: "Forbidden", detail: detail, statusCode: StatusCodes.Status403Forbidden, type: ProblemBase + "forbidden");
}
