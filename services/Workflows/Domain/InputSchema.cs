using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace AgenticFlow.Workflows.Domain;

/// <summary>Checks a run's input against its definition's <c>inputs</c> JSON schema (JsonSchema.Net).</summary>
public static class InputSchema
{
    /// <summary>Every violation as (JSON pointer into the input, message); empty when the input fits or there is no schema.</summary>
    public static List<DefinitionProblem> Check(JsonElement? schema, JsonNode? input)
    {
        var problems = new List<DefinitionProblem>();
        if (schema is not { } s || s.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return problems;
        }
        var evaluated = JsonSchema.FromText(s.GetRawText()).Evaluate(
            JsonDocument.Parse(input?.ToJsonString() ?? "null").RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (evaluated.IsValid)
        {
            return problems;
        }
        foreach (var detail in (evaluated.Details ?? []).Prepend(evaluated))
        {
            if (detail.Errors is { Count: > 0 } errors)
            {
                foreach (var (_, message) in errors)
                {
                    problems.Add(new DefinitionProblem(detail.InstanceLocation.ToString(), message));
                }
            }
        }
        if (problems.Count == 0)
        {
            problems.Add(new DefinitionProblem("", "the input does not match the definition's inputs schema"));
        }
        return problems;
    }
}
