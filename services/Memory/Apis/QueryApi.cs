using System.Diagnostics;
using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;
using AgenticFlow.Memory.Search;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgenticFlow.Memory.Apis;

/// <summary>Semantic, keyword and hybrid search over memories, and the index's state: <c>/api/v1/memory/query</c>, <c>/api/v1/memory/index</c>.</summary>
public static class QueryApi
{
    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/memory/query", Query).WithTags("Memory").WithName("QueryMemory").RequirePlatformRole();
        app.MapGet("/api/v1/memory/index/stats", Stats).WithTags("Memory").WithName("MemoryIndexStats").RequirePlatformRole();
        return app;
    }

    public static async Task<Results<Ok<QueryResponse>, ValidationProblem, ProblemHttpResult>> Query(
        QueryRequest request, HttpRequest http, QueryEngine engine, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var caller = CallerIdentity.From(http);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Text) || request.Text.Length > Validation.MaxTextChars)
        {
            errors["text"] = [$"text is required (at most {Validation.MaxTextChars} characters)"];
        }
        if (request.TopK is < 1 or > Validation.MaxTopK) { errors["topK"] = [$"topK must be between 1 and {Validation.MaxTopK}"]; }
        if (request.GraphDepth is < 0 or > Validation.MaxGraphDepth) { errors["graphDepth"] = [$"graphDepth must be between 0 and {Validation.MaxGraphDepth}"]; }
        if (!Validation.TryMode(request.Mode, out var mode)) { errors["mode"] = ["mode must be semantic, keyword or hybrid"]; }
        if (request.AgentId is not null && !Validation.IsAgentId(request.AgentId)) { errors["agentId"] = ["not a valid agent id"]; }
        if (request.TeamId is not null && !Validation.IsName(request.TeamId)) { errors["teamId"] = ["not a valid team id"]; }
        if (request.Scope is not null && request.Scope != "all") { errors["scope"] = ["scope may only be \"all\""]; }
        var named = (request.AgentId is null ? 0 : 1) + (request.TeamId is null ? 0 : 1) + (request.Scope is null ? 0 : 1);
        if (named > 1) { errors["scope"] = ["name one of agentId, teamId or scope: all"]; }
        if (named == 0 && caller.RestrictedToAgent is null) { errors["agentId"] = ["name agentId, teamId or scope: all"]; }
        var f = request.Filters;
        var filter = Validation.Filter(f?.Kinds, f?.Kind, f?.Tags, f?.From, f?.To, f?.Outcome, errors, "filters.");
        if (errors.Count > 0)
        {
            return Access.Invalid(errors);
        }
        MemoryScope scope;
        if (request.AgentId is { } agentId)
        {
            if (!caller.MayRead(agentId)) { return Access.Forbidden("An agent may search only its own memories."); }
            scope = new MemoryScope(agentId, null, false);
        }
        else if (request.TeamId is { } teamId)
        {
            // Team membership lives in the coordination service, which this deployment does not have yet: until it
            // does, only callers that read everything may search a team's memories.
            if (!caller.ReadsAll()) { return Access.Forbidden("Team memories are searchable by admins, operators and viewers until team membership can be checked."); }
            scope = new MemoryScope(null, teamId, false);
        }
        else if (request.Scope == "all")
        {
            if (!caller.ReadsAll()) { return Access.Forbidden("An agent may search only its own memories."); }
            scope = new MemoryScope(null, null, true);
        }
        else
        {
            scope = new MemoryScope(caller.RestrictedToAgent, null, false);
        }
        var result = await engine.QueryAsync(new MemoryQuery(request.Text!, scope, filter!, request.TopK ?? 10, mode, request.GraphDepth ?? 0), caller.Visible(), ct);
        return TypedResults.Ok(new QueryResponse(mode.ToString().ToLowerInvariant(),
            result.Results.Select(r => new QueryHit(MemoryView.Of(r.Memory), r.Score, r.SemanticScore, r.KeywordScore)).ToList(),
            result.Graph is { } g ? GraphApi.View(g, caller, null) : null,
            clock.Elapsed.TotalMilliseconds));
    }

    public static Ok<IndexStats> Stats(MemoryIndex index, MemoryLoad load, GraphStore graph, MemoryService memory) =>
        TypedResults.Ok(new IndexStats(load.IsReady, index.Count, index.Vectors.Count, index.Vectors.SavedCount, index.Vectors.Source,
            index.Vectors.LoadedFromFile, index.Keywords.Count, graph.Read(g => g.EntityCount), graph.Read(g => g.RelationCount), memory.ModelId));
}
