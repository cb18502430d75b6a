using System.Text.Json;
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
/// Every call's cost, in the Dapr state store, in one transaction per call: the call's own record (kept 40 days),
/// its addition to the hour's totals, and to the caller's spend for the UTC day that budgets read. Totals and spend
/// are spread over a few shards so concurrent calls rarely touch the same document; ETags keep every addition.
/// </summary>
public sealed class CostLedger(DaprClient dapr, IOptions<ProvidersOptions> options)
{
    public const int Shards = 8;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string HourKey(DateTimeOffset at, int shard) => $"costs:{at.UtcDateTime:yyyyMMddHH}:{shard}";
    public static string SpendKey(string caller, DateTimeOffset at, int shard) => $"spend:{caller}:{at.UtcDateTime:yyyyMMdd}:{shard}";

    public async Task<decimal> SpentTodayAsync(string caller, DateTimeOffset now, CancellationToken ct)
    {
        var items = await dapr.GetBulkStateAsync<decimal?>(options.Value.StateStore, Enumerable.Range(0, Shards).Select(s => SpendKey(caller, now, s)).ToList(), parallelism: Shards, cancellationToken: ct);
        return items.Sum(i => i.Value ?? 0m);
    }

    public decimal BudgetFor(string caller) =>
        options.Value.Budgets.TryGetValue(caller, out var budget) ? budget : options.Value.DailyBudgetUsd;

    public async Task RecordAsync(CostRecord record, CancellationToken ct)
    {
        var store = options.Value.StateStore;
        var shard = Random.Shared.Next(Shards);
        var group = $"{record.Provider}|{record.Model}|{record.Caller}";
        for (var attempt = 0; ; attempt++)
        {
            var hourTask = dapr.GetStateAndETagAsync<Dictionary<string, CostTotals>?>(store, HourKey(record.At, shard), cancellationToken: ct);
            var spentTask = dapr.GetStateAndETagAsync<decimal?>(store, SpendKey(record.Caller, record.At, shard), cancellationToken: ct);
            var (hour, hourTag) = await hourTask;
            var (spent, spentTag) = await spentTask;
            hour ??= [];
            var before = hour.GetValueOrDefault(group) ?? new CostTotals(record.Provider, record.Model, record.Caller, 0, 0, 0, 0m);
            hour[group] = before with
            {
                Calls = before.Calls + 1,
                InputTokens = before.InputTokens + record.InputTokens,
                OutputTokens = before.OutputTokens + record.OutputTokens,
                CostUsd = before.CostUsd + record.CostUsd,
            };
            try
            {
                await dapr.ExecuteStateTransactionAsync(store,
                [
                    Write("cost:" + record.Id, record, null, 40 * 86_400),
                    Write(HourKey(record.At, shard), hour, hourTag, 40 * 86_400),
                    Write(SpendKey(record.Caller, record.At, shard), (spent ?? 0m) + record.CostUsd, spentTag, 3 * 86_400),
                ], cancellationToken: ct);
                return;
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < 50)
            {
                await Task.Delay(Random.Shared.Next(1, 5 + attempt), ct);
            }
        }
    }

    /// <summary>Totals of the whole hours from the hour of <paramref name="from"/> to the hour of <paramref name="to"/>.</summary>
    public async Task<IReadOnlyList<CostTotals>> TotalsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var keys = new List<string>();
        for (var hour = new DateTimeOffset(from.UtcDateTime.Date.AddHours(from.UtcDateTime.Hour), TimeSpan.Zero); hour <= to; hour = hour.AddHours(1))
        {
            keys.AddRange(Enumerable.Range(0, Shards).Select(s => HourKey(hour, s)));
        }
        var items = await dapr.GetBulkStateAsync<Dictionary<string, CostTotals>>(options.Value.StateStore, keys, parallelism: 8, cancellationToken: ct);
        return items.Where(i => i.Value is not null).SelectMany(i => i.Value.Values)
            .GroupBy(t => (t.Provider, t.Model, t.Caller))
            .Select(g => new CostTotals(g.Key.Provider, g.Key.Model, g.Key.Caller, g.Sum(t => t.Calls), g.Sum(t => t.InputTokens), g.Sum(t => t.OutputTokens), g.Sum(t => t.CostUsd)))
            .ToList();
    }

    private static StateTransactionRequest Write<T>(string key, T value, string? etag, int ttlSeconds) => new(
        key, JsonSerializer.SerializeToUtf8Bytes(value, Json), StateOperationType.Upsert,
        string.IsNullOrEmpty(etag) ? null : etag,
        new Dictionary<string, string> { ["ttlInSeconds"] = ttlSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        string.IsNullOrEmpty(etag) ? new StateOptions { Concurrency = ConcurrencyMode.FirstWrite } : null);
}
