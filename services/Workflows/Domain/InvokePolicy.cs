namespace AgenticFlow.Workflows.Domain;

/// <summary>
/// Which app methods an <c>invoke</c> step may call. A step's call reaches its target through Dapr as the workflows
/// service, which targets treat as a trusted service (no caller identity), so only what
/// <see cref="WorkflowsOptions.InvokeTargets"/> lists is allowed: <c>app</c> (any method of that app) or
/// <c>app/method-prefix</c>. Never this service itself, and never a route under <c>internal/</c> (services' routes for
/// each other), whatever the list says.
/// </summary>
public static class InvokePolicy
{
    public const string SelfAppId = "workflows";

    /// <summary>Null when the call is allowed; otherwise why not.</summary>
    public static string? Refusal(string app, string method, IReadOnlyList<string> targets)
    {
        var path = method.TrimStart('/');
        if (string.Equals(app, SelfAppId, StringComparison.OrdinalIgnoreCase))
        {
            return "an invoke step may not call the workflows service itself";
        }
        if (path.StartsWith("internal/", StringComparison.OrdinalIgnoreCase) || path.Contains("/internal/", StringComparison.OrdinalIgnoreCase))
        {
            return "internal routes are for the services themselves, not for invoke steps";
        }
        foreach (var target in targets)
        {
            var slash = target.IndexOf('/');
            var targetApp = slash < 0 ? target : target[..slash];
            var prefix = slash < 0 ? "" : target[(slash + 1)..];
            if (string.Equals(targetApp, app, StringComparison.Ordinal) && path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return null;
            }
        }
        return $"app '{app}' method '{path}' is not among the invoke targets this platform allows (Workflows:InvokeTargets)";
    }

    /// <summary>Every step of a definition with its JSON pointer, nested blocks and compensations included.</summary>
    public static IEnumerable<(string Pointer, StepDefinition Step)> AllSteps(IReadOnlyList<StepDefinition>? steps, string pointer) =>
        (steps ?? []).SelectMany((step, i) => WithNested(step, $"{pointer}/{i}"));

    private static IEnumerable<(string Pointer, StepDefinition Step)> WithNested(StepDefinition step, string at)
    {
        yield return (at, step);
        var nested = (step.Branches ?? []).Select((b, n) => AllSteps(b, $"{at}/branches/{n}"))
            .Append(AllSteps(step.Steps, at + "/steps")).Append(AllSteps(step.Then, at + "/then")).Append(AllSteps(step.Else, at + "/else"))
            .Append(step.Compensate is { } compensate ? WithNested(compensate, at + "/compensate") : []);
        foreach (var found in nested.SelectMany(x => x))
        {
            yield return found;
        }
    }
}
