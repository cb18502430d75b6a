using AgenticFlow.Memory.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Apis;

/// <summary>One agent's memories: <c>/api/v1/memory/{agentId}</c>.</summary>
public static class MemoryApi
{
    public static RouteGroupBuilder MapMemoryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/memory/{agentId}").WithTags("Memory").RequirePlatformRole();
        api.MapPost("/", Store).WithName("StoreMemory");
        api.MapDelete("/", Forget).WithName("ForgetAgent");
        api.MapGet("/experiences", Experiences).WithName("ListExperiences");
        api.MapGet("/memories", Memories).WithName("ListMemories");
        api.MapGet("/{memoryId}", Get).WithName("GetMemory");
        api.MapDelete("/{memoryId}", Delete).WithName("DeleteMemory");
        return api;
    }

    public static async Task<Results<Created<StoreMemoryResponse>, ValidationProblem, ProblemHttpResult>> Store(
        string agentId, StoreMemoryRequest request, HttpRequest http, MemoryService memory, IOptions<MemoryOptions> options, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        var errors = Validation.Check(agentId, request, options.Value.MaxContentChars, caller.Principal, out var command);
        if (errors.Count > 0)
        {
            return Access.Invalid(errors);
        }
        if (!caller.MayWrite(agentId))
        {
            return Access.Forbidden("An agent may store only its own memories.");
        }
        var stored = await memory.StoreAsync(command!, ct);
        return TypedResults.Created($"/api/v1/memory/{agentId}/{stored.Id}",
            new StoreMemoryResponse(stored.Id, stored.AgentId, Names.Of(stored.Kind), stored.CreatedAt, stored.ExpiresAt));
    }

    /// <summary>The agent's experiences, newest first, by time range (<c>from</c> inclusive, <c>to</c> exclusive), tags (all must match) and outcome.</summary>
    public static Task<Results<Ok<Page<MemoryView>>, ValidationProblem, ProblemHttpResult>> Experiences(
        string agentId, HttpRequest http, MemoryService memory, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null, string? tags = null, string? outcome = null, int offset = 0, int limit = 50) =>
        List(agentId, http, memory, "experience", from, to, tags, outcome, offset, limit, ct);

    /// <summary>Every kind of memory of the agent (or one <c>kind</c>), newest first, with the same filters.</summary>
    public static Task<Results<Ok<Page<MemoryView>>, ValidationProblem, ProblemHttpResult>> Memories(
        string agentId, HttpRequest http, MemoryService memory, CancellationToken ct,
        string? kind = null, DateTimeOffset? from = null, DateTimeOffset? to = null, string? tags = null, string? outcome = null, int offset = 0, int limit = 50) =>
        List(agentId, http, memory, kind, from, to, tags, outcome, offset, limit, ct);

    private static async Task<Results<Ok<Page<MemoryView>>, ValidationProblem, ProblemHttpResult>> List(
        string agentId, HttpRequest http, MemoryService memory, string? kind, DateTimeOffset? from, DateTimeOffset? to, string? tags, string? outcome,
        int offset, int limit, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Validation.IsAgentId(agentId)) { errors["agentId"] = ["not a valid agent id"]; }
        if (offset < 0) { errors["offset"] = ["offset must not be negative"]; }
        if (limit is < 1 or > 200) { errors["limit"] = ["limit must be between 1 and 200"]; }
        var tagList = tags?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var filter = Validation.Filter(null, kind, tagList, from, to, outcome, errors, "");
        if (errors.Count > 0)
        {
            return Access.Invalid(errors);
        }
        if (!CallerIdentity.From(http).MayRead(agentId))
        {
            return Access.Forbidden("An agent may read only its own memories.");
        }
        var (items, total) = await memory.ListAsync(agentId, filter!, offset, limit, ct);
        return TypedResults.Ok(new Page<MemoryView>(items.Select(MemoryView.Of).ToList(), total, offset, limit));
    }

    public static async Task<Results<Ok<MemoryView>, NotFound<ProblemDetails>, ProblemHttpResult>> Get(
        string agentId, string memoryId, HttpRequest http, MemoryService memory, CancellationToken ct)
    {
        if (!CallerIdentity.From(http).MayRead(agentId))
        {
            return Access.Forbidden("An agent may read only its own memories.");
        }
        return await memory.GetAsync(agentId, memoryId, ct) is { } found
            ? TypedResults.Ok(MemoryView.Of(found))
            : TypedResults.NotFound(Access.NotFound($"Agent {agentId} has no memory {memoryId}."));
    }

    public static async Task<Results<NoContent, NotFound<ProblemDetails>, Conflict<ProblemDetails>, ProblemHttpResult>> Delete(
        string agentId, string memoryId, HttpRequest http, MemoryService memory, CancellationToken ct)
    {
        if (!CallerIdentity.From(http).MayWrite(agentId))
        {
            return Access.Forbidden("An agent may delete only its own memories.");
        }
        return await memory.DeleteAsync(agentId, memoryId, ct) switch
        {
            DeleteStatus.Deleted => TypedResults.NoContent(),
            DeleteStatus.AppendOnly => TypedResults.Conflict(new ProblemDetails
            {
                Title = "Experiences are append-only",
                Detail = $"Memory {memoryId} is an experience: experiences are never changed or deleted one by one. They leave when they expire (ttlSeconds) or when the agent is forgotten (DELETE /api/v1/memory/{agentId}).",
                Status = StatusCodes.Status409Conflict,
                Type = Problems.Base + "experience-append-only",
            }),
            _ => TypedResults.NotFound(Access.NotFound($"Agent {agentId} has no memory {memoryId}.")),
        };
    }

    public static async Task<Results<Ok<ForgetResponse>, ValidationProblem, ProblemHttpResult>> Forget(
        string agentId, HttpRequest http, MemoryService memory, CancellationToken ct)
    {
        if (!Validation.IsAgentId(agentId))
        {
            return Access.Invalid(new Dictionary<string, string[]> { ["agentId"] = ["not a valid agent id"] });
        }
        if (!CallerIdentity.From(http).MayWrite(agentId))
        {
            return Access.Forbidden("An agent may forget only itself.");
        }
        return TypedResults.Ok(new ForgetResponse(agentId, await memory.ForgetAgentAsync(agentId, ct)));
    }
}
