using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Dapr;
using Dapr.Client;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;
using AgenticFlow.Providers.Domain;

namespace AgenticFlow.Providers.Storage;

/// <summary>One call's cost, as recorded.</summary>
public sealed record CostRecord(string Id, DateTimeOffset At, string Provider, string Model, string Caller, long InputTokens, long OutputTokens, decimal CostUsd, double LatencyMs);

/// <summary>Calls, tokens and cost of one (provider, model, caller) within one hour.</summary>
public sealed record CostTotals(string Provider, string Model, string Caller, int Calls, long InputTokens, long OutputTokens, decimal CostUsd);

/// <summary>
/// Every call's cost, in the Dapr state store, written before the call is answered, with nothing read on the way.
/// Each replica owns its own totals documents (keyed by a replica id chosen at start) and keeps them in memory, so
/// it writes absolute values with no ETag and no other writer to race: one writer loop commits every queued record
/// of the moment in one transaction (group commit), together with the hour's totals and the callers' spend for the
/// day. A replica's id joins the day's replica list once, so readers know whose documents to add up.
/// Budgets read this replica's spend from memory (exact) and other replicas' from a copy at most
/// <see cref="ProvidersOptions.SpendRefreshSeconds"/> old: a budget can be overrun by what other replicas spend
/// within that window, never by this replica's own calls.
/// </summary>
public sealed class CostLedger : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly DaprClient dapr;
    private readonly IOptions<ProvidersOptions> options;
    private readonly TimeProvider time;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ReplicaTotals mine = new();
    private readonly ConcurrentDictionary<string, SpendElsewhere> elsewhere = new(StringComparer.Ordinal);
    private readonly HashSet<string> registeredDays = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopping = new();
    private readonly Task writer;

    public CostLedger(DaprClient dapr, IOptions<ProvidersOptions> options, TimeProvider time)
    {
        this.dapr = dapr;
        this.options = options;
        this.time = time;
        writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>This process's id in the totals' keys: new at every start, so no two live processes share one.</summary>
    public string ReplicaId { get; } = Guid.NewGuid().ToString("N")[..12];

    public static string DayKey(DateTimeOffset at) => $"costreplicas:{at.UtcDateTime:yyyyMMdd}";
    public static string HourKey(DateTimeOffset at, string replica) => $"costs:{at.UtcDateTime:yyyyMMddHH}:{replica}";
    public static string SpendKey(string caller, DateTimeOffset at, string replica) => $"spend:{caller}:{at.UtcDateTime:yyyyMMdd}:{replica}";

    public decimal BudgetFor(string caller) =>
        options.Value.Budgets.TryGetValue(caller, out var budget) ? budget : options.Value.DailyBudgetUsd;

    public async Task<decimal> SpentTodayAsync(string caller, DateTimeOffset now, CancellationToken ct)
    {
        var ownSpend = mine.SpendOf(SpendKey(caller, now, ReplicaId));
        var view = elsewhere.GetOrAdd(caller, _ => new SpendElsewhere());
        // The read is shared by every check in the window, so no one caller's cancellation may end it.
        var others = view.ReadAsync(DayKey(now), () => ReadOtherReplicasAsync(caller, now, CancellationToken.None), time, TimeSpan.FromSeconds(options.Value.SpendRefreshSeconds));
        return ownSpend + await others.WaitAsync(ct);
    }

    private async Task<decimal> ReadOtherReplicasAsync(string caller, DateTimeOffset now, CancellationToken ct)
    {
        var others = (await ReplicasOfAsync([DayKey(now)], ct)).Where(r => r != ReplicaId).ToList();
        if (others.Count == 0)
        {
            return 0m;
        }
        var items = await dapr.GetBulkStateAsync<decimal?>(options.Value.StateStore, others.Select(r => SpendKey(caller, now, r)).ToList(), parallelism: 8, cancellationToken: ct);
        return items.Sum(i => i.Value ?? 0m);
    }

    /// <summary>Stores the record and adds it to the totals; returns once both are stored.</summary>
    public async Task RecordAsync(CostRecord record, CancellationToken ct)
    {
        var pending = new Pending(record, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(CostLedger));
        }
        // A caller that gives up still has its cost recorded: the call it paid for happened.
        await pending.Stored.Task.WaitAsync(ct);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        while (await queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            try
            {
                await CommitAsync(batch.Select(p => p.Record).ToList(), stopping.Token);
                batch.ForEach(p => p.Stored.TrySetResult());
            }
            catch (Exception ex)
            {
                batch.ForEach(p => p.Stored.TrySetException(ex));
            }
            batch.Clear();
        }
    }

    private async Task CommitAsync(IReadOnlyList<CostRecord> records, CancellationToken ct)
    {
        foreach (var day in records.Select(r => DayKey(r.At)).Distinct())
        {
            await JoinDayAsync(day, ct);
        }
        await ReloadUnsureAsync(ct);
        var changes = mine.Apply(records, r => HourKey(r.At, ReplicaId), r => SpendKey(r.Caller, r.At, ReplicaId));
        var ttl40Days = 40 * 86_400;
        var operations = records.Select(r => Overwrite("cost:" + r.Id, r, ttl40Days))
            .Concat(changes.Hours.Select(h => Overwrite(h.Key, h.Value, ttl40Days)))
            .Concat(changes.Spend.Select(s => Overwrite(s.Key, s.Value, 3 * 86_400)))
            .ToList();
        try
        {
            await dapr.ExecuteStateTransactionAsync(options.Value.StateStore, operations, cancellationToken: ct);
        }
        catch
        {
            // Not known to be stored, nor known not to be: memory stays as it was, and the documents are read back
            // before the next batch builds on them.
            mine.MarkUnsure(changes);
            throw;
        }
        mine.Keep(changes, time.GetUtcNow());
    }

    /// <summary>Reads back this replica's documents that a failed batch may or may not have changed (it is their only writer).</summary>
    private async Task ReloadUnsureAsync(CancellationToken ct)
    {
        var (hourKeys, spendKeys) = mine.UnsureKeys(k => k.StartsWith("costs:", StringComparison.Ordinal));
        if (hourKeys.Count + spendKeys.Count == 0)
        {
            return;
        }
        var hours = hourKeys.Count == 0 ? [] : await dapr.GetBulkStateAsync<Dictionary<string, CostTotals>?>(options.Value.StateStore, hourKeys, parallelism: 8, cancellationToken: ct);
        var spend = spendKeys.Count == 0 ? [] : await dapr.GetBulkStateAsync<decimal?>(options.Value.StateStore, spendKeys, parallelism: 8, cancellationToken: ct);
        mine.Reload(hours.ToDictionary(h => h.Key, h => h.Value), spend.ToDictionary(s => s.Key, s => s.Value));
    }

    /// <summary>Adds this replica to the day's list (once a day), so readers add up its documents.</summary>
    private async Task JoinDayAsync(string dayKey, CancellationToken ct)
    {
        if (registeredDays.Contains(dayKey))
        {
            return;
        }
        for (var attempt = 0; ; attempt++)
        {
            var (replicas, etag) = await dapr.GetStateAndETagAsync<List<string>?>(options.Value.StateStore, dayKey, cancellationToken: ct);
            replicas ??= [];
            if (replicas.Contains(ReplicaId))
            {
                break;
            }
            replicas.Add(ReplicaId);
            try
            {
                await dapr.ExecuteStateTransactionAsync(options.Value.StateStore, [Write(dayKey, replicas, 40 * 86_400, etag)], cancellationToken: ct);
                break;
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < 50)
            {
                await Task.Delay(Random.Shared.Next(1, 5 + attempt), ct);
            }
        }
        registeredDays.Add(dayKey);
    }

    private async Task<IReadOnlyList<string>> ReplicasOfAsync(IReadOnlyList<string> dayKeys, CancellationToken ct)
    {
        var items = await dapr.GetBulkStateAsync<List<string>>(options.Value.StateStore, dayKeys, parallelism: 8, cancellationToken: ct);
        return items.Where(i => i.Value is not null).SelectMany(i => i.Value).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Totals of the whole hours from the hour of <paramref name="from"/> to the hour of <paramref name="to"/>, over every replica.</summary>
    public async Task<IReadOnlyList<CostTotals>> TotalsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var firstHour = new DateTimeOffset(from.UtcDateTime.Date.AddHours(from.UtcDateTime.Hour), TimeSpan.Zero);
        var keys = new List<string>();
        for (var day = firstHour.Date; day <= to.UtcDateTime.Date; day = day.AddDays(1))
        {
            var dayStart = new DateTimeOffset(day, TimeSpan.Zero);
            var replicas = await ReplicasOfAsync([DayKey(dayStart)], ct);
            for (var hour = dayStart; hour < dayStart.AddDays(1) && hour <= to; hour = hour.AddHours(1))
            {
                if (hour >= firstHour)
                {
                    keys.AddRange(replicas.Select(r => HourKey(hour, r)));
                }
            }
        }
        var items = keys.Count == 0 ? [] : await dapr.GetBulkStateAsync<Dictionary<string, CostTotals>>(options.Value.StateStore, keys, parallelism: 8, cancellationToken: ct);
        return items.Where(i => i.Value is not null).SelectMany(i => i.Value.Values)
            .GroupBy(t => (t.Provider, t.Model, t.Caller))
            .Select(g => new CostTotals(g.Key.Provider, g.Key.Model, g.Key.Caller, g.Sum(t => t.Calls), g.Sum(t => t.InputTokens), g.Sum(t => t.OutputTokens), g.Sum(t => t.CostUsd)))
            .ToList();
    }

    /// <summary>A write; with <paramref name="etag"/> only over that version, with an empty one only when the key is absent.</summary>
    private static StateTransactionRequest Write<T>(string key, T value, int ttlSeconds, string? etag) => new(
        key, JsonSerializer.SerializeToUtf8Bytes(value, Json), StateOperationType.Upsert,
        string.IsNullOrEmpty(etag) ? null : etag,
        new Dictionary<string, string> { ["ttlInSeconds"] = ttlSeconds.ToString(CultureInfo.InvariantCulture) },
        string.IsNullOrEmpty(etag) ? new StateOptions { Concurrency = ConcurrencyMode.FirstWrite } : null);

    /// <summary>A write of a document only this replica writes: last write wins, and the last write is this replica's newest value.</summary>
    private static StateTransactionRequest Overwrite<T>(string key, T value, int ttlSeconds) => new(
        key, JsonSerializer.SerializeToUtf8Bytes(value, Json), StateOperationType.Upsert,
        metadata: new Dictionary<string, string> { ["ttlInSeconds"] = ttlSeconds.ToString(CultureInfo.InvariantCulture) });

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        // Records already queued are written before the process ends; a store that hangs is given up on.
        if (await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(10))) != writer)
        {
            await stopping.CancelAsync();
        }
        stopping.Dispose();
    }

    private sealed record Pending(CostRecord Record, TaskCompletionSource Stored);
}
