using System.Text.Json;
using AgenticFlow.Providers.Domain;
using AgenticFlow.Providers.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Apis;

/// <summary><c>/api/v1/providers</c>: completions, provider settings, status and costs.</summary>
public static class ProvidersApi
{
    public const string ProblemBase = Problems.Base;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RouteGroupBuilder MapProvidersApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/providers").WithTags("Providers");
        api.MapPost("/complete", Complete).WithName("Complete");
        api.MapGet("/", List).WithName("ListProviders");
        api.MapGet("/status", Status).WithName("ProviderStatus");
        api.MapGet("/costs", Costs).WithName("ProviderCosts");
        api.MapGet("/{id}", Get).WithName("GetProvider");
        api.MapPut("/{id}/config", UpdateConfig).WithName("UpdateProviderConfig");
        return api;
    }

    /// <summary>Who is charged and limited: the agent the gateway names; for admins, operators and other services the
    /// request's own caller (so a team or workflow can be charged); an edge caller that is neither is charged as itself.</summary>
    public static string CallerOf(HttpRequest http, string? bodyCaller)
    {
        var identity = CallerIdentity.From(http);
        if (identity.AgentId is { } agent && !identity.Privileged)
        {
            return agent;
        }
        if (identity.Privileged)
        {
            return bodyCaller is { Length: > 0 } c ? c : identity.AgentId ?? identity.Principal ?? "anonymous";
        }
        return "principal:" + identity.Principal;
    }

    public static async Task<IResult> Complete(CompleteRequest request, HttpContext http, CompletionService completions, ProviderRegistry registry, AgentLabels agents, IOptions<ProvidersOptions> options, CancellationToken ct)
    {
        var known = (await registry.AllAsync(ct)).Select(p => p.Settings.Id).ToList();
        var caller = CallerOf(http.Request, request.Caller);
        var errors = RequestReader.Read(request, options.Value.MaxPromptCharacters, caller, known, out var completion);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");
        }
        completion = completion! with { Agent = agents.Of(http.Request, caller) };
        try
        {
            if (!request.Stream)
            {
                return TypedResults.Ok(CompleteResponse.From(await completions.CompleteAsync(completion!, ct)));
            }
            await using var stream = completions.StreamAsync(completion!, ct).GetAsyncEnumerator(ct);
            // The first piece decides between a problem answer and a stream: nothing is sent before it.
            var hasFirst = await stream.MoveNextAsync();
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            for (var more = hasFirst; more; more = await stream.MoveNextAsync())
            {
                var (update, final) = stream.Current;
                if (update is not null)
                {
                    await Sse(http, "delta", new { text = update.Text }, ct);
                }
                if (final is not null)
                {
                    await Sse(http, "done", CompleteResponse.From(final), ct);
                }
            }
            return Results.Empty;
        }
        catch (CompletionRefused refused) when (!http.Response.HasStarted)
        {
            return Refusal(http, refused);
        }
    }

    private static async Task Sse(HttpContext http, string kind, object payload, CancellationToken ct)
    {
        await http.Response.WriteAsync($"event: {kind}\ndata: {JsonSerializer.Serialize(payload, Json)}\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    public static IResult Refusal(HttpContext http, CompletionRefused refused)
    {
        if (refused.RetryAfter is { } after)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var (status, type, title) = refused.Kind switch
        {
            RefusalKind.RateLimited => (StatusCodes.Status429TooManyRequests, "rate-limited", "Rate limit reached"),
            RefusalKind.BudgetExceeded => (StatusCodes.Status402PaymentRequired, "budget-exceeded", "Budget exceeded"),
            RefusalKind.NoProvider => (StatusCodes.Status400BadRequest, "no-provider", "No provider fits"),
            RefusalKind.Rejected => (StatusCodes.Status502BadGateway, "provider-rejected", "Provider rejected the request"),
            _ => (StatusCodes.Status503ServiceUnavailable, "providers-unavailable", "No provider could answer"),
        };
        return TypedResults.Problem(title: title, detail: refused.Message, statusCode: status, type: ProblemBase + type,
            extensions: new Dictionary<string, object?> { ["attempts"] = refused.Attempts });
    }

    public static async Task<Ok<IReadOnlyList<ProviderView>>> List(ProviderRegistry registry, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<ProviderView>>((await registry.AllAsync(ct)).Select(p => ProviderView.From(p.Settings, p.Version)).ToList());

    public static async Task<Results<Ok<ProviderView>, NotFound<ProblemDetails>>> Get(string id, HttpContext http, ProviderRegistry registry, CancellationToken ct)
    {
        if (await registry.GetAsync(id, ct) is not { } found)
        {
            return TypedResults.NotFound(NotFound(id));
        }
        http.Response.Headers.ETag = $"\"{found.Version}\"";
        return TypedResults.Ok(ProviderView.From(found.Settings, found.Version));
    }

    public static async Task<IResult> UpdateConfig(string id, ProviderSettings settings, HttpContext http, ProviderRegistry registry, IOptions<ProvidersOptions> options, CancellationToken ct)
    {
        // Checked here as well as at the gateway: a provider's settings decide where its API key is sent.
        if (CallerIdentity.From(http.Request) is { FromEdge: true } caller && !caller.Roles.Contains(CallerIdentity.Admin))
        {
            return TypedResults.Problem(title: "Forbidden", detail: "Only admins may change provider settings.", statusCode: StatusCodes.Status403Forbidden, type: ProblemBase + "forbidden");
        }
        settings.Id = id;
        var errors = settings.Validate(options.Value).ToArray();
        if (errors.Length > 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["config"] = errors }, type: ProblemBase + "validation");
        }
        var ifMatch = http.Request.Headers.IfMatch.ToString().Trim('"');
        if (ifMatch.Length == 0)
        {
            // Settings decide where keys and traffic go: a change must name the version it replaces.
            return TypedResults.Problem(title: "If-Match required", detail: $"Read the provider first (GET /api/v1/providers/{id}) and send its ETag as If-Match.",
                statusCode: StatusCodes.Status428PreconditionRequired, type: ProblemBase + "precondition-required");
        }
        var (result, version) = await registry.UpdateAsync(settings, ifMatch, ct);
        switch (result)
        {
            case ConfigUpdate.NotFound:
                return TypedResults.NotFound(NotFound(id));
            case ConfigUpdate.Conflict:
                return TypedResults.Problem(title: "Changed meanwhile", detail: $"Provider {id} is at version {version}; read it again and retry with that If-Match.",
                    statusCode: StatusCodes.Status412PreconditionFailed, type: ProblemBase + "etag-mismatch");
            default:
                http.Response.Headers.ETag = $"\"{version}\"";
                return TypedResults.Ok(ProviderView.From(settings, version!));
        }
    }

    public static async Task<Ok<IReadOnlyList<ProviderStatusView>>> Status(ProviderRegistry registry, ProviderHealth health, CancellationToken ct)
    {
        var views = new List<ProviderStatusView>();
        foreach (var (settings, version) in await registry.AllAsync(ct))
        {
            var state = health.For(settings, version);
            var (p50, p99, errorRate, calls) = state.Stats();
            var (requests, tokens) = state.Limits.Remaining();
            views.Add(new ProviderStatusView(settings.Id, settings.Enabled, settings.IsDevelopment,
                state.Breaker.CircuitState.ToString().ToLowerInvariant(), settings.Enabled && state.Breaker.CircuitState is Polly.CircuitBreaker.CircuitState.Closed,
                p50, p99, Math.Round(errorRate, 4), calls, requests, tokens));
        }
        return TypedResults.Ok<IReadOnlyList<ProviderStatusView>>(views);
    }

    public static async Task<Results<Ok<CostReport>, ValidationProblem>> Costs(CostLedger ledger, TimeProvider time, CancellationToken ct,
        DateTimeOffset? from = null, DateTimeOffset? to = null, string groupBy = "provider", string? caller = null, string? provider = null, string? model = null)
    {
        var end = to ?? time.GetUtcNow();
        var start = from ?? end.AddDays(-1);
        if (start > end || end - start > TimeSpan.FromDays(31) || groupBy is not ("provider" or "model" or "caller"))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["window"] = ["from must precede to by at most 31 days; groupBy is provider, model or caller"] }, type: ProblemBase + "validation");
        }
        var totals = (await ledger.TotalsAsync(start, end, ct))
            .Where(t => (caller is null || t.Caller == caller) && (provider is null || t.Provider == provider) && (model is null || t.Model == model))
            .ToList();
        var groups = totals.GroupBy(t => groupBy switch { "model" => t.Model, "caller" => t.Caller, _ => t.Provider })
            .Select(g => new CostGroup(g.Key, g.Sum(t => t.Calls), g.Sum(t => t.InputTokens), g.Sum(t => t.OutputTokens), g.Sum(t => t.CostUsd)))
            .OrderByDescending(g => g.CostUsd).ToList();
        return TypedResults.Ok(new CostReport(start, end, groupBy, groups.Sum(g => g.Calls), groups.Sum(g => g.CostUsd), groups));
    }

    private static ProblemDetails NotFound(string id) => new() { Title = "Not found", Detail = $"No provider {id}.", Status = 404, Type = ProblemBase + "not-found" };
}

public sealed record ProviderView(string Id, string Kind, string? Endpoint, string? ApiKeySecret, IReadOnlyList<ModelSettings> Models, int Rpm, int Tpm,
    int Priority, int Weight, bool Enabled, int TimeoutSeconds, bool Development, string Version)
{
    public static ProviderView From(ProviderSettings p, string version) =>
        new(p.Id, p.Kind, p.Endpoint, p.ApiKeySecret, p.Models, p.Rpm, p.Tpm, p.Priority, p.Weight, p.Enabled, p.TimeoutSeconds, p.IsDevelopment, version);
}

public sealed record ProviderStatusView(string Id, bool Enabled, bool Development, string Circuit, bool Healthy, double? P50Ms, double? P99Ms, double ErrorRate, int RecentCalls, long? RemainingRequests, long? RemainingTokens);

public sealed record CostGroup(string Key, int Calls, long InputTokens, long OutputTokens, decimal CostUsd);

public sealed record CostReport(DateTimeOffset From, DateTimeOffset To, string GroupBy, int Calls, decimal TotalUsd, IReadOnlyList<CostGroup> Groups);
