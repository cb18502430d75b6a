using System.Collections.Concurrent;

namespace AgenticFlow.Providers.Storage;

/// <summary>
/// This replica's own totals documents as last stored: hour totals by (provider, model, caller), and each caller's
/// spend for the day. Only the ledger's writer loop changes them; budget checks read spend from any thread.
/// </summary>
internal sealed class ReplicaTotals
{
    private readonly Dictionary<string, Dictionary<string, CostTotals>> hours = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, decimal> spend = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> touched = new(StringComparer.Ordinal);
    private readonly HashSet<string> unsure = new(StringComparer.Ordinal);

    public decimal SpendOf(string spendKey) => spend.GetValueOrDefault(spendKey);

    /// <summary>The documents a batch changes, with the batch added; nothing is kept until <see cref="Keep"/>.</summary>
    public Changes Apply(IReadOnlyList<CostRecord> records, Func<CostRecord, string> hourKey, Func<CostRecord, string> spendKey)
    {
        var newHours = new Dictionary<string, Dictionary<string, CostTotals>>(StringComparer.Ordinal);
        var newSpend = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            var hk = hourKey(record);
            if (!newHours.TryGetValue(hk, out var hour))
            {
                hour = hours.TryGetValue(hk, out var stored) ? new Dictionary<string, CostTotals>(stored, StringComparer.Ordinal) : new(StringComparer.Ordinal);
                newHours[hk] = hour;
            }
            var group = $"{record.Provider}|{record.Model}|{record.Caller}";
            var before = hour.GetValueOrDefault(group) ?? new CostTotals(record.Provider, record.Model, record.Caller, 0, 0, 0, 0m);
            hour[group] = before with
            {
                Calls = before.Calls + 1,
                InputTokens = before.InputTokens + record.InputTokens,
                OutputTokens = before.OutputTokens + record.OutputTokens,
                CostUsd = before.CostUsd + record.CostUsd,
            };
            var sk = spendKey(record);
            newSpend[sk] = (newSpend.TryGetValue(sk, out var pending) ? pending : SpendOf(sk)) + record.CostUsd;
        }
        return new Changes(newHours, newSpend);
    }

    /// <summary>Takes a stored batch's documents as the current ones, and forgets documents no call has touched for two days.</summary>
    public void Keep(Changes changes, DateTimeOffset now)
    {
        foreach (var (key, hour) in changes.Hours)
        {
            hours[key] = hour;
            touched[key] = now;
        }
        foreach (var (key, value) in changes.Spend)
        {
            spend[key] = value;
            touched[key] = now;
        }
        foreach (var stale in touched.Where(t => now - t.Value > TimeSpan.FromDays(2)).Select(t => t.Key).ToList())
        {
            touched.Remove(stale);
            hours.Remove(stale);
            spend.TryRemove(stale, out _);
        }
    }

    /// <summary>A batch whose commit failed may still have been stored (a timeout after the store applied it): its
    /// documents are unsure until read back, since the next batch writes absolute values computed from memory.</summary>
    public void MarkUnsure(Changes changes) => unsure.UnionWith(changes.Hours.Keys.Concat(changes.Spend.Keys));

    public (IReadOnlyList<string> Hours, IReadOnlyList<string> Spend) UnsureKeys(Func<string, bool> isHourKey)
    {
        var hourKeys = unsure.Where(isHourKey).ToList();
        return (hourKeys, unsure.Except(hourKeys).ToList());
    }

    /// <summary>Takes the documents as the store holds them now (absent: nothing stored yet) and trusts them again.</summary>
    public void Reload(IReadOnlyDictionary<string, Dictionary<string, CostTotals>?> storedHours, IReadOnlyDictionary<string, decimal?> storedSpend)
    {
        foreach (var (key, hour) in storedHours)
        {
            if (hour is null) { hours.Remove(key); } else { hours[key] = new Dictionary<string, CostTotals>(hour, StringComparer.Ordinal); }
            unsure.Remove(key);
        }
        foreach (var (key, value) in storedSpend)
        {
            if (value is null) { spend.TryRemove(key, out _); } else { spend[key] = value.Value; }
            unsure.Remove(key);
        }
    }

    public sealed record Changes(IReadOnlyDictionary<string, Dictionary<string, CostTotals>> Hours, IReadOnlyDictionary<string, decimal> Spend);
}

/// <summary>
/// What other replicas have spent for one caller on the current day, read at most once per window: concurrent checks
/// share one read, a failed read is not kept, and a new day starts from a new read.
/// </summary>
internal sealed class SpendElsewhere
{
    private readonly Lock gate = new();
    private Task<decimal>? current;
    private DateTimeOffset readAt;
    private string? day;

    public Task<decimal> ReadAsync(string currentDay, Func<Task<decimal>> read, TimeProvider time, TimeSpan window)
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (current is null || current.IsFaulted || current.IsCanceled || day != currentDay || (current.IsCompleted && now - readAt >= window))
            {
                readAt = now;
                day = currentDay;
                current = read();
            }
            return current;
        }
    }
}
