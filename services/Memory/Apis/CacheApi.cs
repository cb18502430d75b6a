using AgenticFlow.Memory.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Memory.Apis;

/// <summary>Agents' hot data with a TTL: <c>/api/v1/memory/cache/{key}</c>. An agent's entries live in its own namespace;
/// others name one with <c>?agentId=</c> or use the <c>shared</c> namespace.</summary>
public static class CacheApi
{
    public const string Shared = "shared";

    public static RouteGroupBuilder MapCacheApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/memory/cache").WithTags("Cache").RequirePlatformRole();
        api.MapPut("/{key}", Put).WithName("PutCacheEntry");
        api.MapGet("/{key}", Get).WithName("GetCacheEntry");
        api.MapDelete("/{key}", Delete).WithName("DeleteCacheEntry");
        return api;
    }

    /// <summary>The namespace a caller works in, or an error: an agent only its own; a viewer reads only.</summary>
    private static (string? Namespace, IResult? Error) Namespace(string key, string? agentId, HttpRequest http, bool write)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Validation.IsCacheKey(key)) { errors["key"] = ["key must be 1-256 letters, digits, '.', '_', ':' or '-'"]; }
        if (agentId is not null && !Validation.IsAgentId(agentId)) { errors["agentId"] = ["not a valid agent id"]; }
        if (errors.Count > 0)
        {
            return (null, Access.Invalid(errors));
        }
        var caller = CallerIdentity.From(http);
        if (caller.RestrictedToAgent is { } self)
        {
            return agentId is null || agentId == self ? (self, null) : (null, Access.Forbidden("An agent may use only its own cache."));
        }
        if (write && caller.IsViewerOnly())
        {
            return (null, Access.Forbidden("Viewers may only read the cache."));
        }
        return (agentId ?? Shared, null);
    }

    public static async Task<IResult> Put(string key, CachePutRequest request, HttpRequest http, CacheStore cache, CancellationToken ct, string? agentId = null)
    {
        var (ns, error) = Namespace(key, agentId, http, write: true);
        if (error is not null)
        {
            return error;
        }
        var errors = new Dictionary<string, string[]>();
        if (request.Value is null || request.Value.Value.ValueKind == System.Text.Json.JsonValueKind.Undefined) { errors["value"] = ["value is required (any JSON)"]; }
        else if (request.Value.Value.GetRawText().Length > 256 * 1024) { errors["value"] = ["value may hold at most 256 KiB of JSON"]; }
        if (request.TtlSeconds is < 1 or > Validation.MaxTtlSeconds) { errors["ttlSeconds"] = [$"ttlSeconds must be between 1 and {Validation.MaxTtlSeconds}"]; }
        if (errors.Count > 0)
        {
            return Access.Invalid(errors);
        }
        var (entry, replaced) = await cache.PutAsync(ns!, key, request.Value!.Value, request.TtlSeconds, ct);
        var view = new CacheView(entry.Namespace, entry.Key, entry.Value, entry.StoredAt, entry.ExpiresAt);
        return replaced ? TypedResults.Ok(view) : TypedResults.Created($"/api/v1/memory/cache/{key}", view);
    }

    public static async Task<IResult> Get(string key, HttpRequest http, CacheStore cache, CancellationToken ct, string? agentId = null)
    {
        var (ns, error) = Namespace(key, agentId, http, write: false);
        if (error is not null)
        {
            return error;
        }
        return await cache.GetAsync(ns!, key, ct) is { } entry
            ? TypedResults.Ok(new CacheView(entry.Namespace, entry.Key, entry.Value, entry.StoredAt, entry.ExpiresAt))
            : TypedResults.NotFound(Access.NotFound($"No cache entry {key} (never stored, deleted, or expired)."));
    }

    public static async Task<IResult> Delete(string key, HttpRequest http, CacheStore cache, CancellationToken ct, string? agentId = null)
    {
        var (ns, error) = Namespace(key, agentId, http, write: true);
        if (error is not null)
        {
            return error;
        }
        return await cache.DeleteAsync(ns!, key, ct)
            ? TypedResults.NoContent()
            : TypedResults.NotFound(Access.NotFound($"No cache entry {key}."));
    }
}
