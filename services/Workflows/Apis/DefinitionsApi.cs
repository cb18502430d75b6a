using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using static AgenticFlow.Workflows.Apis.WorkflowProblems;

namespace AgenticFlow.Workflows.Apis;

/// <summary>Workflow definitions: <c>/api/v1/workflows</c>. Admins, operators and services write; every role reads.</summary>
public static class DefinitionsApi
{
    public static RouteGroupBuilder MapDefinitionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/workflows").WithTags("Definitions").RequirePlatformRole();
        api.MapPost("/", Create).WithName("CreateWorkflow");
        api.MapGet("/", List).WithName("ListWorkflows");
        api.MapGet("/{id}", Get).WithName("GetWorkflow");
        api.MapPut("/{id}", Update).WithName("UpdateWorkflow");
        api.MapPut("/{id}/versions/{version:int}/triggers", SetTriggers).WithName("SetWorkflowTriggers");
        return api;
    }

    /// <summary>Checks a posted definition: every problem with its JSON pointer, including sub-workflows naming unknown definitions.</summary>
    private static async Task<(WorkflowDefinition? Definition, List<DefinitionProblem> Problems)> ReadAsync(JsonElement body, WorkflowStore store, WorkflowsOptions options, CancellationToken ct)
    {
        var raw = body.GetRawText();
        if (raw.Length > options.MaxDefinitionBytes)
        {
            return (null, [new DefinitionProblem("", $"a definition is at most {options.MaxDefinitionBytes} bytes")]);
        }
        var node = JsonNode.Parse(raw);
        var problems = DefinitionValidator.Check(node);
        if (node is JsonObject obj && obj["id"] is { } id && (id.GetValueKind() != JsonValueKind.String || !DefinitionValidator.IsName(id.GetValue<string>())))
        {
            problems.Add(new DefinitionProblem("/id", "id holds letters, digits, '.', '_' and '-' (at most 128), starting with a letter or digit"));
        }
        if (problems.Count > 0)
        {
            return (null, problems);
        }
        var definition = body.Deserialize<WorkflowDefinition>(WorkflowDefinition.Json)!;
        foreach (var (pointer, step) in InvokePolicy.AllSteps(definition.Steps, "/steps").Where(s => s.Step.Kind == StepKinds.Invoke))
        {
            if (InvokePolicy.Refusal(step.App ?? "", step.Method ?? "", options.InvokeTargets) is { } refusal)
            {
                problems.Add(new DefinitionProblem(pointer + "/app", refusal));
            }
        }
        foreach (var (pointer, workflow) in SubWorkflows(definition.Steps, "/steps"))
        {
            if (await store.GetDefinitionAsync(workflow, ct) is null)
            {
                problems.Add(new DefinitionProblem(pointer + "/workflow", $"refers to workflow '{workflow}', which does not exist"));
            }
        }
        return (problems.Count > 0 ? null : definition, problems);
    }

    private static IEnumerable<(string Pointer, string Workflow)> SubWorkflows(IReadOnlyList<StepDefinition>? steps, string pointer)
    {
        for (var i = 0; i < (steps?.Count ?? 0); i++)
        {
            var step = steps![i];
            var at = $"{pointer}/{i}";
            if (step.Kind == StepKinds.SubWorkflow && step.Workflow is { } workflow)
            {
                yield return (at, workflow);
            }
            var nested = (step.Branches ?? []).Select((b, n) => SubWorkflows(b, $"{at}/branches/{n}"))
                .Append(SubWorkflows(step.Steps, at + "/steps")).Append(SubWorkflows(step.Then, at + "/then")).Append(SubWorkflows(step.Else, at + "/else"));
            foreach (var found in nested.SelectMany(x => x))
            {
                yield return found;
            }
        }
    }

    private static List<string> Warnings(WorkflowDefinition definition, WorkflowsOptions options, IReadOnlySet<string> listening) =>
        definition.Triggers.Where(t => t.Kind == TriggerKinds.Event && t.Topic is not null && !listening.Contains(t.Topic))
            .Select(t => $"this service is not yet subscribed to topic '{t.Topic}': Dapr reads subscriptions when the sidecar starts, so the trigger fires after the workflows service restarts (or list the topic in Workflows:TriggerTopics)")
            .ToList();

    public static async Task<Results<Created<DefinitionCreated>, ProblemHttpResult>> Create(
        JsonElement body, HttpRequest http, WorkflowStore store, DefinitionCatalog catalog, TriggerTopics topics, IOptions<WorkflowsOptions> options, CancellationToken ct)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Workflows are defined by admins, operators and services.");
        }
        var (definition, problems) = await ReadAsync(body, store, options.Value, ct);
        if (definition is null)
        {
            return Listed(InvalidDefinition, "Invalid workflow definition", problems);
        }
        var id = body.TryGetProperty("id", out var given) ? given.GetString()! : "wf-" + Guid.NewGuid().ToString("N")[..12];
        if (await catalog.CreateAsync(id, body, definition, ct) is not { } record)
        {
            return Conflict(Exists, "Workflow exists", $"A workflow with id {id} exists; PUT /api/v1/workflows/{id} adds a version.");
        }
        return TypedResults.Created($"/api/v1/workflows/{id}", new DefinitionCreated(id, record.Name, 1, Warnings(definition, options.Value, topics.Listening)));
    }

    public static async Task<Results<Ok<DefinitionCreated>, ProblemHttpResult>> Update(
        string id, JsonElement body, HttpRequest http, WorkflowStore store, DefinitionCatalog catalog, TriggerTopics topics, IOptions<WorkflowsOptions> options, CancellationToken ct)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Workflows are defined by admins, operators and services.");
        }
        if (!DefinitionValidator.IsName(id))
        {
            return Missing($"No workflow {id}.");
        }
        var (definition, problems) = await ReadAsync(body, store, options.Value, ct);
        if (definition is null)
        {
            return Listed(InvalidDefinition, "Invalid workflow definition", problems);
        }
        if (await catalog.AddVersionAsync(id, body, definition, ct) is not { } record)
        {
            return Missing($"No workflow {id}.");
        }
        return TypedResults.Ok(new DefinitionCreated(id, record.Name, record.LatestVersion, Warnings(definition, options.Value, topics.Listening)));
    }

    public static async Task<Results<Ok<DefinitionPage>, ValidationProblem, ProblemHttpResult>> List(HttpRequest http, WorkflowStore store, CancellationToken ct,
        string? cursor = null, int limit = 50)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading workflows needs a role.");
        }
        if (limit is < 1 or > 500)
        {
            return Invalid("limit", "limit must be between 1 and 500");
        }
        if (cursor is not null && (cursor.Length is 0 or > 9 || !cursor.All(char.IsAsciiDigit)))
        {
            return Invalid("cursor", "cursor is the nextCursor of the previous page");
        }
        var (items, next) = await store.ListDefinitionsAsync(cursor, limit, ct);
        return TypedResults.Ok(new DefinitionPage(items.Select(d => new DefinitionSummary(d.Id, d.Name, d.Description, d.LatestVersion, d.CreatedAt, d.UpdatedAt)).ToList(), next));
    }

    public static async Task<Results<Ok<DefinitionView>, ProblemHttpResult>> Get(string id, HttpRequest http, WorkflowStore store, CancellationToken ct, int? version = null)
    {
        if (!MayRead(CallerIdentity.From(http)))
        {
            return Refused("Reading workflows needs a role.");
        }
        if (!DefinitionValidator.IsName(id) || await store.GetDefinitionAsync(id, ct) is not { } record)
        {
            return Missing($"No workflow {id}.");
        }
        var number = version ?? record.LatestVersion;
        if (await store.GetVersionAsync(id, number, ct) is not { } stored)
        {
            return Missing($"Workflow {id} has no version {number}.");
        }
        var (runs, _) = await store.ListRunsAsync(id, null, null, 10, ct);
        return TypedResults.Ok(new DefinitionView(id, record.Name, record.Description, record.LatestVersion, number, stored.Definition, record.Versions,
            runs.Select(RunSummary.Of).ToList(), record.CreatedAt, record.UpdatedAt));
    }

    public static async Task<Results<Ok<DefinitionRecord>, ValidationProblem, ProblemHttpResult>> SetTriggers(string id, int version, TriggersRequest request,
        HttpRequest http, DefinitionCatalog catalog, CancellationToken ct)
    {
        if (!MayOperate(CallerIdentity.From(http)))
        {
            return Refused("Triggers are switched by admins, operators and services.");
        }
        if (request.Enabled is not { } enabled)
        {
            return Invalid("enabled", "enabled is required: true or false");
        }
        if (!DefinitionValidator.IsName(id) || await catalog.SetTriggersAsync(id, version, enabled, ct) is not { } record)
        {
            return Missing($"No workflow {id} version {version}.");
        }
        return TypedResults.Ok(record);
    }
}
