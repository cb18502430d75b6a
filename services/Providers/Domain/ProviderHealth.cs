using AgenticFlow.ServiceDefaults;
using System.Collections.Concurrent;
using AgenticFlow.Providers.Clients;
using Dapr.Client;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace AgenticFlow.Providers.Domain;

/// <summary>What the router knows of one provider: its resilience pipeline (retry honouring Retry-After,
/// circuit breaker, timeout), its recent latencies and errors, and its rate limits.</summary>
public sealed class ProviderState(string id, ResiliencePipeline pipeline, CircuitBreakerStateProvider breaker, ProviderLimits limits)
{
    private readonly Queue<(double Ms, bool Failed)> _recent = new();
    private readonly Lock _gate = new();

    public string Id { get; } = id;
    public ResiliencePipeline Pipeline { get; } = pipeline;
    public CircuitBreakerStateProvider Breaker { get; } = breaker;
    public ProviderLimits Limits { get; } = limits;

    public void Record(double milliseconds, bool failed)
    {
        lock (_gate)
        {
            _recent.Enqueue((milliseconds, failed));
            while (_recent.Count > 500)
            {
                _recent.Dequeue();
            }
        }
    }

    public (double? P50, double? P99, double ErrorRate, int Calls) Stats()
    {
        lock (_gate)
        {
            var ok = _recent.Where(r => !r.Failed).Select(r => r.Ms).Order().ToArray();
            double? At(double p) => ok.Length == 0 ? null : ok[Math.Clamp((int)Math.Ceiling(p * ok.Length) - 1, 0, ok.Length - 1)];
            return (At(0.5), At(0.99), _recent.Count == 0 ? 0 : _recent.Count(r => r.Failed) / (double)_recent.Count, _recent.Count);
        }
    }
}

/// <summary>The per-provider state, made when a provider is first used and remade when its settings change.</summary>
public sealed partial class ProviderHealth(IOptions<ProvidersOptions> options, DaprClient dapr, ILogger<ProviderHealth> logger)
{
    public const string CircuitOpenedTopic = "providers.circuit-opened";
    public const string CircuitClosedTopic = "providers.circuit-closed";

    private readonly ConcurrentDictionary<(string Id, string Version), ProviderState> _states = new();

    /// <summary>
    /// Set on each attempt: whether another provider could still take the call. While one could, a failure moves on
    /// to it at once (it is the retry) instead of sleeping out a backoff or a Retry-After here; only the last
    /// candidate retries in place.
    /// </summary>
    public static readonly ResiliencePropertyKey<bool> FallbackAvailable = new("agenticflow.fallback-available");

    /// <summary>A Retry-After longer than this is the caller's to wait out (it gets the 429/503 with the header), not ours.</summary>
    public static readonly TimeSpan LongestRetryAfterSlept = TimeSpan.FromSeconds(10);

    public ProviderState For(ProviderSettings provider, string version) =>
        _states.GetOrAdd((provider.Id, version), _ => Create(provider));

    private ProviderState Create(ProviderSettings provider)
    {
        var settings = options.Value;
        var breaker = new CircuitBreakerStateProvider();
        var transient = new PredicateBuilder()
            .Handle<ProviderHttpException>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>();
        var builder = new ResiliencePipelineBuilder();
        if (settings.Retries > 0)
        {
            Func<RetryPredicateArguments<object>, ValueTask<bool>> retryable = transient;
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args =>
                    args.Context.Properties.GetValue(FallbackAvailable, false)
                    || args.Outcome.Exception is ProviderHttpException { RetryAfter: { } wait } && wait > LongestRetryAfterSlept
                        ? ValueTask.FromResult(false)
                        : retryable(args),
                MaxRetryAttempts = settings.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = TimeSpan.FromSeconds(10),
                // A provider's Retry-After wins over our own backoff.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is ProviderHttpException { RetryAfter: { } after } ? after : (TimeSpan?)null),
            });
        }
        var pipeline = builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = settings.BreakerFailureRatio,
                MinimumThroughput = settings.BreakerMinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(settings.BreakerSeconds),
                StateProvider = breaker,
                OnOpened = async _ =>
                {
                    LogCircuit(provider.Id, "opened");
                    await Notify(CircuitOpenedTopic, provider.Id);
                },
                OnClosed = async _ =>
                {
                    LogCircuit(provider.Id, "closed");
                    await Notify(CircuitClosedTopic, provider.Id);
                },
            })
            .AddTimeout(TimeSpan.FromSeconds(provider.TimeoutSeconds))
            .Build();
        return new ProviderState(provider.Id, pipeline, breaker, new ProviderLimits(provider.Rpm, provider.Tpm));
    }

    private Task Notify(string topic, string providerId) =>
        dapr.TryPublishEventAsync(options.Value.PubSub, topic, new { providerId, at = DateTimeOffset.UtcNow }, logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Circuit of provider {ProviderId} {State}")]
    private partial void LogCircuit(string providerId, string state);
}
