using AgenticFlow.ServiceDefaults;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using AgenticFlow.Providers.Clients;
using AgenticFlow.Providers.Storage;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace AgenticFlow.Providers.Domain;

public sealed record RoutingHints(string Strategy, decimal? MaxCostUsd, int? MaxLatencyMs, IReadOnlyList<string> RequiredFeatures, IReadOnlyList<string>? Providers, int? CacheTtlSeconds = null);

public sealed record CompletionRequest(IReadOnlyList<ChatMessage> Messages, string? Model, string? ModelClass, ChatOptions Options, RoutingHints Routing, string Caller)
{
    /// <summary>The agent the GenAI metrics name (<see cref="AgentLabels"/>): bounded, from the caller identity headers.</summary>
    public string Agent { get; init; } = AgentLabels.Other;
}

public sealed record CompletionResult(
    string Text, IReadOnlyList<FunctionCallContent> ToolCalls, string Provider, string Model, long InputTokens, long OutputTokens,
    decimal CostUsd, double LatencyMs, bool Development, string? FinishReason, IReadOnlyList<string> Attempts, bool Cached = false);

public enum RefusalKind { NoProvider, RateLimited, BudgetExceeded, AllFailed, Rejected }

/// <summary>Why a completion was not made: no provider fits, a limit or budget refuses, or every candidate failed.</summary>
public sealed class CompletionRefused(RefusalKind kind, string detail, TimeSpan? retryAfter = null, IReadOnlyList<string>? attempts = null) : Exception(detail)
{
    public RefusalKind Kind { get; } = kind;
    public TimeSpan? RetryAfter { get; } = retryAfter;
    public IReadOnlyList<string> Attempts { get; } = attempts ?? [];
}

public sealed record Candidate(ProviderSettings Provider, string Version, ModelSettings Model, ProviderState State, decimal EstimatedCost);

/// <summary>
/// Routes a completion: picks the providers and models that fit, orders them by the strategy, and tries them in
/// turn through each provider's pipeline, moving on after a timeout, a 5xx, a 429 or an open circuit. Caller
/// limits and budgets are checked first; every answered call's cost is recorded.
/// </summary>
public sealed partial class CompletionService(
    ProviderRegistry registry,
    ProviderHealth health,
    ChatClientFactory clients,
    CallerLimits callers,
    CostLedger ledger,
    ResponseCache cache,
    DaprClient dapr,
    IOptions<ProvidersOptions> options,
    TimeProvider time,
    ILogger<CompletionService> logger)
{
    public const string BudgetExceededTopic = "providers.budget-exceeded";

    public static readonly string[] Strategies = ["priority", "cheapest", "fastest", "weighted"];

    public async Task<IReadOnlyList<Candidate>> CandidatesAsync(CompletionRequest request, CancellationToken ct)
    {
        var promptTokens = TokenEstimate.Of(request.Messages);
        var outputTokens = request.Options.MaxOutputTokens ?? 512;
        var list = new List<Candidate>();
        foreach (var (provider, version) in await registry.AllAsync(ct))
        {
            if (!provider.Enabled || (request.Routing.Providers is { Count: > 0 } only && !only.Contains(provider.Id)))
            {
                continue;
            }
            var model = provider.Models.FirstOrDefault(m =>
                (request.Model is null || m.Name == request.Model) &&
                (request.ModelClass is null || m.Class == request.ModelClass) &&
                request.Routing.RequiredFeatures.All(f => m.Features.Contains(f)));
            if (model is null)
            {
                continue;
            }
            var cost = Price(model, promptTokens, outputTokens);
            if (request.Routing.MaxCostUsd is { } maxCost && cost > maxCost)
            {
                continue;
            }
            var state = health.For(provider, version);
            if (request.Routing.MaxLatencyMs is { } maxLatency && state.Stats().P99 is { } p99 && p99 > maxLatency)
            {
                continue;
            }
            list.Add(new Candidate(provider, version, model, state, cost));
        }
        var ordered = request.Routing.Strategy switch
        {
            "cheapest" => list.OrderBy(c => c.EstimatedCost).ThenBy(c => c.Provider.Priority).ToList(),
            "fastest" => list.OrderBy(c => c.State.Stats().P50 ?? 0).ThenBy(c => c.Provider.Priority).ToList(),
            "weighted" => Weighted(list),
            _ => list.OrderBy(c => c.Provider.Priority).ThenBy(c => c.Provider.Id, StringComparer.Ordinal).ToList(),
        };
        // The development provider is free and instant, so it would win "cheapest" and "fastest": it is the last resort instead.
        return ordered.OrderBy(c => c.Provider.IsDevelopment).ToList();
    }

    private async Task<IReadOnlyList<Candidate>> RequireCandidatesAsync(CompletionRequest request, CancellationToken ct)
    {
        var candidates = await CandidatesAsync(request, ct);
        return candidates.Count > 0
            ? candidates
            : throw new CompletionRefused(RefusalKind.NoProvider, "no enabled provider serves that model with those features within the routing limits");
    }

    private static List<Candidate> Weighted(List<Candidate> list)
    {
        var ordered = new List<Candidate>();
        var pool = list.Where(c => c.Provider.Weight > 0).ToList();
        while (pool.Count > 0)
        {
            var pick = Random.Shared.Next(pool.Sum(c => c.Provider.Weight));
            var chosen = pool.First(c => (pick -= c.Provider.Weight) < 0);
            ordered.Add(chosen);
            pool.Remove(chosen);
        }
        return ordered;
    }

    public static decimal Price(ModelSettings model, long inputTokens, long outputTokens) =>
        (inputTokens * model.InputPricePer1M + outputTokens * model.OutputPricePer1M) / 1_000_000m;

    /// <summary>Caller limits and budget; throws <see cref="CompletionRefused"/> when the call may not go ahead.</summary>
    private async Task AdmitAsync(CompletionRequest request, CancellationToken ct)
    {
        var tokens = TokenEstimate.Of(request.Messages) + (request.Options.MaxOutputTokens ?? 512);
        var (granted, retryAfter) = callers.For(request.Caller).TryAcquire(tokens);
        if (!granted)
        {
            throw new CompletionRefused(RefusalKind.RateLimited, $"caller {request.Caller} is over its requests or tokens per minute", retryAfter);
        }
        var budget = ledger.BudgetFor(request.Caller);
        if (budget > 0)
        {
            var spent = await ledger.SpentTodayAsync(request.Caller, time.GetUtcNow(), ct);
            if (spent >= budget)
            {
                await NotifyAsync(BudgetExceededTopic, new { caller = request.Caller, budgetUsd = budget, spentUsd = spent }, ct);
                throw new CompletionRefused(RefusalKind.BudgetExceeded, $"caller {request.Caller} has spent {spent:0.######} of its {budget:0.##} USD budget for today");
            }
        }
    }

    public async Task<CompletionResult> CompleteAsync(CompletionRequest request, CancellationToken ct)
    {
        await AdmitAsync(request, ct);
        var cacheKey = request.Routing.CacheTtlSeconds is > 0 && request.Options.Tools is not { Count: > 0 } ? ResponseCache.Key(request) : null;
        if (cacheKey is not null && await cache.GetAsync(cacheKey, ct) is { } hit)
        {
            // An exact repeat within the TTL: answered from the cache, at no cost and with no provider call.
            return hit with { CostUsd = 0, LatencyMs = 0, Cached = true, Attempts = ["cache: hit"] };
        }
        var result = await CompleteUncachedAsync(request, ct);
        if (cacheKey is not null)
        {
            await cache.PutAsync(cacheKey, result, request.Routing.CacheTtlSeconds!.Value, ct);
        }
        return result;
    }

    private async Task<CompletionResult> CompleteUncachedAsync(CompletionRequest request, CancellationToken ct)
    {
        var (candidate, response, started, attempts) = await FirstAnswerAsync(request,
            (client, candidate, token) => client.GetResponseAsync(request.Messages, Options(request, candidate), token), ct);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        candidate.State.Record(elapsed, failed: false);
        var input = response.Usage?.InputTokenCount ?? TokenEstimate.Of(request.Messages);
        var output = response.Usage?.OutputTokenCount ?? TokenEstimate.Of(response.Text);
        var answered = new CompletionResult(response.Text, response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList(),
            candidate.Provider.Id, response.ModelId ?? candidate.Model.Name, input, output, Price(candidate.Model, input, output), elapsed,
            candidate.Provider.IsDevelopment, response.FinishReason?.Value, [.. attempts, $"{candidate.Provider.Id}: ok"]);
        // After the provider answered: a failure to record is not the provider's failure.
        await RecordAsync(request.Caller, answered, ct);
        return answered;
    }

    /// <summary>Streams a completion. Fallback happens only before the first piece arrives: after that the caller has text.</summary>
    public async IAsyncEnumerable<(ChatResponseUpdate? Update, CompletionResult? Final)> StreamAsync(CompletionRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        await AdmitAsync(request, ct);
        var (candidate, (stream, first), started, attempts) = await FirstAnswerAsync(request, async (client, candidate, token) =>
        {
            var enumerator = client.GetStreamingResponseAsync(request.Messages, Options(request, candidate), ct).GetAsyncEnumerator(token);
            return await enumerator.MoveNextAsync() ? (enumerator, enumerator.Current) : (enumerator, (ChatResponseUpdate?)null);
        }, ct);
        var text = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        string? finish = null;
        string? modelId = null;
        await using (stream)
        {
            for (var update = first; update is not null; update = await stream.MoveNextAsync() ? stream.Current : null)
            {
                text.Append(update.Text);
                usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
                finish = update.FinishReason?.Value ?? finish;
                modelId ??= update.ModelId;
                if (!string.IsNullOrEmpty(update.Text))
                {
                    yield return (update, null);
                }
            }
        }
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        candidate.State.Record(elapsed, failed: false);
        var input = usage?.InputTokenCount ?? TokenEstimate.Of(request.Messages);
        var output = usage?.OutputTokenCount ?? TokenEstimate.Of(text.ToString());
        var result = new CompletionResult(text.ToString(), [], candidate.Provider.Id, modelId ?? candidate.Model.Name, input, output,
            Price(candidate.Model, input, output), elapsed, candidate.Provider.IsDevelopment, finish, [.. attempts, $"{candidate.Provider.Id}: ok"]);
        await RecordAsync(request.Caller, result, ct);
        yield return (null, result);
    }

    /// <summary>
    /// The routing loop both plain and streamed completions use: candidates in the strategy's order, each taken only
    /// within its limits and closed circuit, <paramref name="attempt"/> run through its resilience pipeline. A
    /// timeout, 5xx, 429, unreachable or unavailable provider moves on to the next (keeping the soonest
    /// Retry-After); any other 4xx means the request itself is refused, and another provider would refuse it too.
    /// </summary>
    private async Task<(Candidate Candidate, T Answer, long Started, List<string> Attempts)> FirstAnswerAsync<T>(
        CompletionRequest request, Func<IChatClient, Candidate, CancellationToken, Task<T>> attempt, CancellationToken ct)
    {
        var candidates = await RequireCandidatesAsync(request, ct);
        var attempts = new List<string>();
        TimeSpan? soonest = null;
        for (var index = 0; index < candidates.Count; index++)
        {
            var candidate = candidates[index];
            if (candidate.State.Breaker.CircuitState is CircuitState.Isolated)
            {
                attempts.Add($"{candidate.Provider.Id}: circuit open");
                continue;
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                // The client first: a provider that cannot be made spends none of its rate limit.
                var client = await clients.GetAsync(candidate.Provider, candidate.Model.Name, candidate.Version, ct);
                if (!TryTake(candidate, request, attempts, ref soonest))
                {
                    continue;
                }
                var context = ResilienceContextPool.Shared.Get(ct);
                try
                {
                    context.Properties.Set(ProviderHealth.FallbackAvailable, candidates.Skip(index + 1).Any(c => c.State.Breaker.CircuitState is CircuitState.Closed or CircuitState.HalfOpen));
                    var answer = await candidate.State.Pipeline.ExecuteAsync(async c => await attempt(client, candidate, c.CancellationToken), context);
                    return (candidate, answer, started, attempts);
                }
                finally
                {
                    ResilienceContextPool.Shared.Return(context);
                }
            }
            catch (Exception ex) when (!IsFallbackError(ex) && !ct.IsCancellationRequested && ex is not CompletionRefused)
            {
                candidate.State.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, failed: true);
                throw new CompletionRefused(RefusalKind.Rejected, $"provider {candidate.Provider.Id} rejected the request ({Describe(ex)})", attempts: [.. attempts, $"{candidate.Provider.Id}: {Describe(ex)}"]);
            }
            catch (Exception ex) when (IsFallbackError(ex) && !ct.IsCancellationRequested)
            {
                candidate.State.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, failed: true);
                attempts.Add($"{candidate.Provider.Id}: {Describe(ex)}");
                if (ex is ProviderHttpException { RetryAfter: { } after })
                {
                    soonest = soonest is null || after < soonest ? after : soonest;
                }
                LogFallback(candidate.Provider.Id, Describe(ex));
            }
        }
        if (attempts.All(a => a.EndsWith("rate limited", StringComparison.Ordinal)))
        {
            throw new CompletionRefused(RefusalKind.RateLimited, "every fitting provider is at its rate limit", soonest ?? TimeSpan.FromSeconds(1), attempts);
        }
        throw new CompletionRefused(RefusalKind.AllFailed, "every fitting provider failed", soonest, attempts);
    }

    private static bool TryTake(Candidate candidate, CompletionRequest request, List<string> attempts, ref TimeSpan? soonest)
    {
        var (granted, retryAfter) = candidate.State.Limits.TryAcquire(TokenEstimate.Of(request.Messages) + (request.Options.MaxOutputTokens ?? 512));
        if (!granted)
        {
            attempts.Add($"{candidate.Provider.Id}: rate limited");
            soonest = soonest is null || retryAfter < soonest ? retryAfter : soonest;
            return false;
        }
        return true;
    }

    private static ChatOptions Options(CompletionRequest request, Candidate candidate)
    {
        var options = request.Options.Clone();
        options.ModelId = candidate.Model.Name;
        return Clients.GenAiInstrumentation.WithCaller(options, request.Caller, request.Agent);
    }

    private async Task RecordAsync(string caller, CompletionResult result, CancellationToken ct) =>
        await ledger.RecordAsync(new CostRecord(Guid.NewGuid().ToString("N"), time.GetUtcNow(), result.Provider, result.Model, caller,
            result.InputTokens, result.OutputTokens, result.CostUsd, result.LatencyMs), ct);

    private static bool IsFallbackError(Exception ex) =>
        ex is ProviderHttpException or ProviderUnavailableException or HttpRequestException or BrokenCircuitException or Polly.Timeout.TimeoutRejectedException or TaskCanceledException or IOException;

    /// <summary>What went wrong, in words fit for a response: status codes and kinds, never request details or keys.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        ProviderHttpException p => $"HTTP {(int)p.Status}",
        ProviderUnavailableException => "unavailable (its API key could not be read)",
        BrokenCircuitException => "circuit open",
        Polly.Timeout.TimeoutRejectedException or TaskCanceledException => "timed out",
        System.ClientModel.ClientResultException c => $"HTTP {c.Status}",
        HttpRequestException h => h.StatusCode is { } s ? $"HTTP {(int)s}" : "unreachable",
        _ => "failed",
    };

    private Task NotifyAsync(string topic, object payload, CancellationToken ct) => dapr.TryPublishEventAsync(options.Value.PubSub, topic, payload, logger, ct);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provider {ProviderId} failed ({Reason}); trying the next")]
    private partial void LogFallback(string providerId, string reason);
}
