using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace AgenticFlow.Providers.Domain;

/// <summary>Requests-per-minute and tokens-per-minute token buckets; a limit of 0 is no limit.</summary>
public sealed class ProviderLimits(int rpm, int tpm)
{
    private readonly TokenBucketRateLimiter? _requests = Bucket(rpm);
    private readonly TokenBucketRateLimiter? _tokens = Bucket(tpm);

    public int Rpm { get; } = rpm;
    public int Tpm { get; } = tpm;

    private static TokenBucketRateLimiter? Bucket(int perMinute) => perMinute <= 0 ? null : new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
    {
        TokenLimit = perMinute,
        TokensPerPeriod = Math.Max(1, perMinute / 60),
        ReplenishmentPeriod = TimeSpan.FromSeconds(perMinute >= 60 ? 1 : 60.0 / perMinute),
        QueueLimit = 0,
        AutoReplenishment = true,
    });

    private readonly Lock _gate = new();

    /// <summary>Takes one request and <paramref name="tokens"/> tokens, or nothing at all: returns when to try again
    /// instead. Both buckets are checked before either is taken from, under one lock, so a call refused for its
    /// tokens does not spend a request (replenishing only ever adds, so a check made under the lock still holds).</summary>
    public (bool Granted, TimeSpan RetryAfter) TryAcquire(long tokens)
    {
        // A call larger than the whole bucket takes the whole bucket.
        var wanted = (int)Math.Clamp(tokens, 1, Math.Max(1, Tpm));
        lock (_gate)
        {
            if (_tokens is not null && _tokens.GetStatistics()!.CurrentAvailablePermits < wanted)
            {
                // A failed attempt takes nothing and says when enough tokens will be there.
                return (false, RetryAfter(_tokens.AttemptAcquire(wanted)));
            }
            var request = _requests?.AttemptAcquire(1);
            if (request is { IsAcquired: false })
            {
                return (false, RetryAfter(request));
            }
            _tokens?.AttemptAcquire(wanted);
            return (true, TimeSpan.Zero);
        }
    }

    public (long? Requests, long? Tokens) Remaining() =>
        (_requests?.GetStatistics()?.CurrentAvailablePermits, _tokens?.GetStatistics()?.CurrentAvailablePermits);

    private static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
}

/// <summary>Limits per caller (an agent or a team), made on first use.</summary>
public sealed class CallerLimits(Microsoft.Extensions.Options.IOptions<ProvidersOptions> options)
{
    private readonly ConcurrentDictionary<string, ProviderLimits> _callers = new(StringComparer.Ordinal);

    public ProviderLimits For(string caller) => _callers.GetOrAdd(caller, _ => new ProviderLimits(options.Value.CallerRpm, options.Value.CallerTpm));
}
