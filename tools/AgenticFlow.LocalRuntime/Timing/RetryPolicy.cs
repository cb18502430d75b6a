namespace AgenticFlow.LocalRuntime.Timing;

/// <summary>A Dapr <c>Resiliency</c> retry policy, as far as the runtime applies it (pub/sub delivery), and the
/// runtime's own retries (see <see cref="Backoff"/>).</summary>
public sealed record RetryPolicy(string Policy, TimeSpan Duration, TimeSpan MaxInterval, int MaxRetries)
{
    /// <summary>Used when no Resiliency resource targets a pub/sub component: three retries, 100 ms doubling.</summary>
    public static readonly RetryPolicy DeliveryDefault = new("exponential", TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), 3) { Growth = 2 };

    /// <summary>Until a durable write is stored (a timer firing, a report to a parent workflow, an instance reloaded):
    /// from half a second, growing 1.5x to at most five seconds, without end.</summary>
    public static readonly RetryPolicy UntilStored = new("exponential", TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), -1);

    /// <summary>While the app is starting and does not listen yet: every 250 ms, 20 times.</summary>
    public static readonly RetryPolicy AppStarting = new("constant", TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250), 20);

    /// <summary>Where daprd's exponential back-off starts; it grows 1.5x per retry (without daprd's random jitter here).</summary>
    public static readonly TimeSpan ExponentialStart = TimeSpan.FromMilliseconds(500);

    public TimeSpan DelayFor(int attempt) => Policy == "constant"
        ? Duration
        : TimeSpan.FromMilliseconds(Math.Min(MaxInterval.TotalMilliseconds, Duration.TotalMilliseconds * Math.Pow(Growth, attempt)));

    /// <summary>Per-retry growth of an exponential policy: daprd's 1.5, unless a policy made in code asks for another.</summary>
    public double Growth { get; init; } = 1.5;
}
