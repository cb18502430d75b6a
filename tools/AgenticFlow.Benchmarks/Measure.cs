using System.Diagnostics;

namespace AgenticFlow.Benchmarks;

/// <summary>Latency samples of one scenario and the figures printed from them.</summary>
public sealed class Samples
{
    private readonly List<double> _ms = [];
    private readonly Lock _gate = new();

    public void Add(double milliseconds)
    {
        lock (_gate)
        {
            _ms.Add(milliseconds);
        }
    }

    public int Count => _ms.Count;

    public double Percentile(double p)
    {
        lock (_gate)
        {
            if (_ms.Count == 0)
            {
                return double.NaN;
            }
            var sorted = _ms.Order().ToArray();
            return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        }
    }
}

public static class Measure
{
    /// <summary>Starts <paramref name="rate"/> operations a second for <paramref name="duration"/>, each timed on its own (open loop).</summary>
    public static async Task<(Samples Samples, double Throughput)> FixedRate(int rate, TimeSpan duration, Func<Task> op)
    {
        var samples = new Samples();
        var total = (int)(rate * duration.TotalSeconds);
        var clock = Stopwatch.StartNew();
        var pending = new List<Task>(total);
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }
            pending.Add(Timed(op, samples));
        }
        await Task.WhenAll(pending);
        return (samples, samples.Count / clock.Elapsed.TotalSeconds);
    }

    /// <summary>As many operations as <paramref name="workers"/> closed loops complete in <paramref name="duration"/>.</summary>
    public static async Task<(Samples Samples, double Throughput)> Saturate(int workers, TimeSpan duration, Func<Task> op)
    {
        var samples = new Samples();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
        {
            while (clock.Elapsed < duration)
            {
                await Timed(op, samples);
            }
        }));
        return (samples, samples.Count / clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Runs <paramref name="op"/> untimed in closed loops first, so the processes on the path have compiled their hot
    /// code at full optimisation (tiered compilation and dynamic PGO take seconds of load): without it the first
    /// scenario on a path measures the JIT, which took a third of the gateway's CPU in its first seconds.
    /// </summary>
    public static Task WarmUp(int workers, Func<Task> op, TimeSpan? duration = null) => Saturate(workers, duration ?? WarmUpDuration, op);

    /// <summary>Polls until <paramref name="done"/> holds or <paramref name="limit"/> passes (a drain, say).</summary>
    public static async Task Until(Func<bool> done, TimeSpan limit, int pollMilliseconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < limit)
        {
            await Task.Delay(pollMilliseconds);
        }
    }

    /// <summary>BENCH_WARMUP_SECONDS, or <see cref="DefaultWarmUpSeconds"/>.</summary>
    public static TimeSpan WarmUpDuration =>
        TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("BENCH_WARMUP_SECONDS"), out var s) ? s : DefaultWarmUpSeconds);

    /// <summary>Measured on this 2-core machine: the tier-up of a gateway -> sidecar -> service path kept the JIT busy
    /// for 20-30 s of load (its compiled-method count stopped growing only then), and 3 s of warm-up left an open-loop
    /// 200/s measured at seconds of latency that 30 s of warm-up measured at milliseconds.</summary>
    private const double DefaultWarmUpSeconds = 20;

    /// <summary>BENCH_SLOW_MS: operations slower than this are printed with their start time (the bursts of slow sends
    /// that were connection set-up and JIT tiering were found so, beside a system-wide perf recording).</summary>
    private static readonly double SlowMilliseconds = double.TryParse(Environment.GetEnvironmentVariable("BENCH_SLOW_MS"), out var slow) ? slow : double.MaxValue;

    private static async Task Timed(Func<Task> op, Samples samples)
    {
        var start = Stopwatch.GetTimestamp();
        await op();
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        samples.Add(ms);
        if (ms > SlowMilliseconds)
        {
            // Start time on the monotonic clock (as perf's timestamps), to find what ran when the slow ones did.
            Console.WriteLine($"slow: started {(double)start / Stopwatch.Frequency:F3} s, took {ms:F1} ms");
        }
    }

    public static void Print(string scenario, string path, (Samples Samples, double Throughput) result) =>
        Console.WriteLine($"| {scenario,-34} | {path,-16} | {result.Samples.Percentile(50),8:F2} | {result.Samples.Percentile(99),8:F2} | {result.Throughput,10:F0} |");

    /// <summary>One line comparing a figure with its baseline: latencies added, throughput as a share, and the target.</summary>
    public static string Ratio(string scenario, (Samples Samples, double Throughput) measured, (Samples Samples, double Throughput) baseline, string target) =>
        $"- {scenario}: p50 {measured.Samples.Percentile(50):F2} vs {baseline.Samples.Percentile(50):F2} ms (+{measured.Samples.Percentile(50) - baseline.Samples.Percentile(50):F2}), " +
        $"p99 {measured.Samples.Percentile(99):F2} vs {baseline.Samples.Percentile(99):F2} ms (+{measured.Samples.Percentile(99) - baseline.Samples.Percentile(99):F2}), " +
        $"throughput {measured.Throughput:F0} vs {baseline.Throughput:F0}/s = {measured.Throughput / baseline.Throughput:P0}; target: {target}";

    public static void Header()
    {
        Console.WriteLine($"| {"scenario",-34} | {"path",-16} | {"p50 ms",8} | {"p99 ms",8} | {"ops/s",10} |");
        Console.WriteLine($"|{new string('-', 36)}|{new string('-', 18)}|{new string('-', 10)}|{new string('-', 10)}|{new string('-', 12)}|");
    }
}

/// <summary>Processor time the named processes spend, read before and after a scenario and divided by its operations.</summary>
public sealed class CpuMeter(params (string Name, Process Process)[] processes)
{
    public TimeSpan[] Read() => processes.Select(p =>
    {
        p.Process.Refresh();
        return p.Process.HasExited ? TimeSpan.Zero : p.Process.TotalProcessorTime;
    }).ToArray();

    public string PerOperation(TimeSpan[] before, int operations)
    {
        var after = Read();
        var parts = processes.Select((p, i) => $"{p.Name} {(after[i] - before[i]).TotalMilliseconds / Math.Max(1, operations):F3}");
        return $"{(after.Zip(before, (a, b) => (a - b).TotalMilliseconds).Sum() / Math.Max(1, operations)):F3} ({string.Join(", ", parts)})";
    }
}
