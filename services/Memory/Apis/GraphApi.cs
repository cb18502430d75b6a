using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Memory.Apis;

/// <summary>The temporal knowledge graph: <c>/api/v1/memory/knowledge-graph</c>. Entities and relations are added or
/// merged as sent (no LLM in the write path), with the caller as provenance.</summary>
public static class GraphApi
{
    public const int MaxEdges = 1_000;

    public static RouteGroupBuilder MapGraphApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/memory/knowledge-graph").WithTags("Knowledge graph").RequirePlatformRole();
        api.MapGet("/", Walk).WithName("WalkKnowledgeGraph");
        api.MapPost("/entities", AddEntity).WithName("MergeEntity");
        api.MapPost("/relations", AddRelation).WithName("AddRelation");
        return api;
    }

    /// <summary>
    /// The entities within <c>depth</c> hops of <c>entity</c> (every visible edge when no entity is named, up to 1,000),
    /// with the edges valid at <c>asOf</c> (default now); <c>history=true</c> shows closed edges too.
    /// </summary>
    public static async Task<Results<Ok<GraphResponse>, ValidationProblem, NotFound<ProblemDetails>>> Walk(
        HttpRequest http, GraphStore graph, MemoryLoad load, TimeProvider time, CancellationToken ct,
        string? entity = null, int depth = 1, DateTimeOffset? asOf = null, bool history = false)
    {
        var errors = new Dictionary<string, string[]>();
        if (entity is not null && !Validation.IsEntityName(entity)) { errors["entity"] = ["entity must be 1-200 characters"]; }
        if (depth is < 0 or > Validation.MaxGraphDepth) { errors["depth"] = [$"depth must be between 0 and {Validation.MaxGraphDepth}"]; }
        if (history && asOf is not null) { errors["history"] = ["history shows every edge; it cannot be combined with asOf"]; }
        if (errors.Count > 0)
        {
            return Access.Invalid(errors);
        }
        await load.Ready.WaitAsync(ct);
        var caller = CallerIdentity.From(http);
        var visible = caller.Visible();
        var at = asOf ?? time.GetUtcNow();
        GraphView view;
        if (entity is null)
        {
            view = graph.Read(g =>
            {
                var edges = g.Relations.Where(r => (history || r.ValidAt(at)) && visible(r)).OrderBy(r => r.ValidFrom).Take(MaxEdges + 1).ToList();
                var truncated = edges.Count > MaxEdges;
                edges = edges.Take(MaxEdges).ToList();
                var keys = edges.SelectMany(e => new[] { e.Subject, e.Object }).ToHashSet(StringComparer.Ordinal);
                return new GraphView(keys.Select(k => g.Entity(k)).OfType<Entity>().OrderBy(e => e.Key, StringComparer.Ordinal).ToList(), edges, truncated);
            });
        }
        else
        {
            var key = GraphNames.EntityKey(entity);
            view = graph.Read(g => g.Neighbourhood([key], depth, at, history, visible));
            var seen = view.Nodes.Count > 0 && (view.Edges.Count > 0 || caller.RestrictedToAgent is null
                || view.Nodes[0].Provenance.Any(p => p.AgentId == caller.RestrictedToAgent));
            if (!seen)
            {
                return TypedResults.NotFound(Access.NotFound($"No entity {entity} in the knowledge graph."));
            }
        }
        return TypedResults.Ok(View(view, caller, history ? null : at));
    }

    public static async Task<Results<Ok<EntityView>, ValidationProblem, ProblemHttpResult>> AddEntity(
        EntityRequest request, HttpRequest http, GraphStore graph, MemoryLoad load, TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Validation.IsEntityName(request.Name)) { errors["name"] = ["name is required (1-200 characters)"]; }
        if (request.Type is { Length: > 100 }) { errors["type"] = ["type may hold at most 100 characters"]; }
        if (request.Attributes is { Count: > 64 } || request.Attributes?.Any(a => a.Key.Length is 0 or > 100 || a.Value is null || a.Value.Length > 2_000) == true)
        {
            errors["attributes"] = ["at most 64 attributes, names 1-100 characters, values at most 2,000"];
        }
        var caller = CallerIdentity.From(http);
        if (Provenance(request.AgentId, request.MemoryId, caller, time, errors) is not { } provenance)
        {
            return errors.Count > 0 ? Access.Invalid(errors) : Access.Forbidden("An agent may assert facts only as itself.");
        }
        await load.Ready.WaitAsync(ct);
        var entity = await graph.ChangeAsync((g, change) => g.MergeEntity(request.Name!, request.Type, request.Attributes, provenance, change, keepOthers: caller.RestrictedToAgent is not null), ct);
        return TypedResults.Ok(View(entity, caller));
    }

    public static async Task<Results<Ok<RelationAdded>, ValidationProblem, ProblemHttpResult>> AddRelation(
        RelationRequest request, HttpRequest http, GraphStore graph, MemoryLoad load, TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        Validation.CheckRelation(request.Subject, request.Predicate, request.Object, "relation", errors);
        var caller = CallerIdentity.From(http);
        if (Provenance(request.AgentId, request.MemoryId, caller, time, errors) is not { } provenance)
        {
            return errors.Count > 0 ? Access.Invalid(errors) : Access.Forbidden("An agent may assert facts only as itself.");
        }
        await load.Ready.WaitAsync(ct);
        var (relation, created, closed) = await graph.ChangeAsync((g, change) =>
        {
            var (r, isNew) = g.AddRelation(request.Subject!, request.Predicate!, request.Object!, request.ValidFrom, request.SingleValued, provenance, change, caller.Visible());
            return (r, isNew, change.Relations.Values.Where(x => x.Id != r.Id && x.ClosedBy == r.Id).ToList());
        }, ct);
        return TypedResults.Ok(new RelationAdded(View(relation, caller), created, closed.Select(c => View(c, caller)).ToList()));
    }

    /// <summary>The provenance of a hand-made assertion: the calling agent (who may not name another), or for others the agent named, if any.</summary>
    private static Provenance? Provenance(string? agentId, string? memoryId, CallerIdentity caller, TimeProvider time, Dictionary<string, string[]> errors)
    {
        if (agentId is not null && !Validation.IsAgentId(agentId)) { errors["agentId"] = ["not a valid agent id"]; }
        if (memoryId is not null && !Validation.IsName(memoryId)) { errors["memoryId"] = ["not a valid memory id"]; }
        if (errors.Count > 0)
        {
            return null;
        }
        if (caller.IsViewerOnly() || (caller.RestrictedToAgent is { } self && agentId is not null && agentId != self))
        {
            return null;
        }
        return new Provenance(caller.RestrictedToAgent ?? agentId, caller.Principal, memoryId, time.GetUtcNow(), Graph.Provenance.Asserted);
    }

    public static GraphResponse View(GraphView view, CallerIdentity caller, DateTimeOffset? asOf) =>
        new(view.Nodes.Select(n => View(n, caller)).ToList(), view.Edges.Select(e => View(e, caller)).ToList(), asOf, view.Truncated);

    /// <summary>An entity as the caller may see it: an agent sees the attributes only of entities no other agent asserted.</summary>
    public static EntityView View(Entity e, CallerIdentity caller) =>
        new(e.Key, e.Name, e.Type,
            caller.RestrictedToAgent is { } agent && e.Provenance.Any(p => p.AgentId != agent) ? new Dictionary<string, string>() : e.Attributes,
            caller.Shown(e.Provenance), e.CreatedAt, e.UpdatedAt);

    public static RelationView View(Relation r, CallerIdentity caller) =>
        new(r.Id, r.Subject, r.Predicate, r.Object, r.ValidFrom, r.ValidTo, r.ClosedBy, r.SingleValued, caller.Shown(r.Provenance), r.CreatedAt);
}
