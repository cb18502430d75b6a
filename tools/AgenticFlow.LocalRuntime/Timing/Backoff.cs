using System.Runtime.ExceptionServices;

namespace AgenticFlow.LocalRuntime.Timing;

/// <summary>
/// The one retry loop of the runtime: tries again after <see cref="RetryPolicy.DelayFor"/> (waited on the injected
/// <see cref="TimeProvider"/>) until a try succeeds or the policy's retries run out. A cancelled token ends the wait
/// with <see cref="OperationCanceledException"/>.
/// </summary>
public static class Backoff
{
    /// <summary>
    /// Runs <paramref name="tryOnce"/> (given the try's number, from 1) until it returns true; false when every retry
    /// was used. With <paramref name="waitFirst"/> the first try, too, comes after a delay. Exceptions escape.
    /// </summary>
    public static async Task<bool> RetryAsync(this RetryPolicy policy, Func<int, Task<bool>> tryOnce, TimeProvider time, CancellationToken ct, bool waitFirst = false)
    {
        if (waitFirst)
        {
            await Task.Delay(policy.DelayFor(0), time, ct);
        }
        for (var attempt = 0; ; attempt++)
        {
            if (await tryOnce(attempt + 1))
            {
                return true;
            }
            if (policy.MaxRetries >= 0 && attempt >= policy.MaxRetries)
            {
                return false;
            }
            await Task.Delay(policy.DelayFor(waitFirst ? attempt + 1 : attempt), time, ct);
        }
    }

    /// <summary>Runs <paramref name="call"/> until it returns; an exception <paramref name="retryable"/> accepts is tried
    /// again, and the last one escapes once the retries run out.</summary>
    public static async Task<T> RetryAsync<T>(this RetryPolicy policy, Func<Task<T>> call, Func<Exception, bool> retryable, TimeProvider time, CancellationToken ct)
    {
        T result = default!;
        ExceptionDispatchInfo? last = null;
        var done = await policy.RetryAsync(async _ =>
        {
            try
            {
                result = await call();
                return true;
            }
            catch (Exception ex) when (retryable(ex))
            {
                last = ExceptionDispatchInfo.Capture(ex);
                return false;
            }
        }, time, ct);
        if (!done)
        {
            last!.Throw();
        }
        return result;
    }

    /// <summary>Waits until <paramref name="at"/> on <paramref name="time"/>'s clock, in steps of at most 30 days
    /// (one delay cannot exceed about 49 days).</summary>
    public static async Task DelayUntilAsync(this TimeProvider time, DateTimeOffset at, CancellationToken ct)
    {
        var step = TimeSpan.FromDays(30);
        for (var wait = at - time.GetUtcNow(); wait > TimeSpan.Zero; wait = at - time.GetUtcNow())
        {
            await Task.Delay(wait < step ? wait : step, time, ct);
        }
    }
}
